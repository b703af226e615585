package broker

// QueueQoS0 makes the session of clientID keep QoS 0 messages while it is
// offline, as if queue_qos0_messages were set for it alone; on false it
// undoes that. Mosquitto does this for the local side of a lazy bridge, so
// that the QoS 0 messages it is to carry count towards its threshold and go
// once it connects. Safe for concurrent use.
func (srv *Server) QueueQoS0(clientID string, on bool) {
	if on {
		srv.qos0Sessions.Store(clientID, struct{}{})
	} else {
		srv.qos0Sessions.Delete(clientID)
	}
}

// queuesQoS0 reports whether the offline session id keeps QoS 0 messages:
// queue_qos0_messages, or QueueQoS0.
func (srv *Server) queuesQoS0(id string) bool {
	if srv.opt().QueueQoS0Messages {
		return true
	}
	_, ok := srv.qos0Sessions.Load(id)
	return ok
}

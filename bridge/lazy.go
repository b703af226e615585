package bridge

// qos0Queuer is the optional part of Local (broker.Server has it) that
// makes an offline session keep QoS 0 messages.
type qos0Queuer interface {
	QueueQoS0(clientID string, on bool)
}

// queueQoS0 has the local session keep QoS 0 messages while the bridge is
// disconnected if it is lazy, as Mosquitto does (its lazy bridges queue
// them whatever queue_qos0_messages says, and count them towards
// threshold); other start types follow queue_qos0_messages.
func (b *Bridge) queueQoS0() {
	q, ok := b.local.(qos0Queuer)
	if !ok {
		return
	}
	b.mu.Lock()
	id, lazy := b.cfg.LocalClientID, b.cfg.StartType == Lazy
	b.mu.Unlock()
	q.QueueQoS0(id, lazy)
}

// stopQueueQoS0 undoes queueQoS0 when the bridge stops.
func (b *Bridge) stopQueueQoS0() {
	if q, ok := b.local.(qos0Queuer); ok {
		b.mu.Lock()
		id := b.cfg.LocalClientID
		b.mu.Unlock()
		q.QueueQoS0(id, false)
	}
}

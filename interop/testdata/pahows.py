"""A paho-mqtt 1.6 client over WebSockets (or TCP), with or without TLS, for
the listener tests.

    pahows.py sub --port P [options] --topic FILTER [--qos Q] [--count N]
    pahows.py pub --port P [options] --topic T --payload X [--qos Q]

    options: [--transport websockets|tcp] [--protocol 311|5] [--cafile CA]
             [--header NAME=VALUE ...] [--cookie-bytes N]

--cafile turns TLS on (wss:// for WebSockets) and verifies the broker's
certificate with that CA. --header adds or replaces a header of the
WebSocket upgrade request (Sec-Websocket-Protocol=chat); --cookie-bytes adds
a Cookie header N bytes long.

It prints one line per event, so the Go test can wait for each:

    CONNECTED <rc>
    SUBSCRIBED <granted QoS>
    MSG <topic> <payload>
    PUBLISHED <mid>
    DISCONNECTED <rc>
    ERROR <what failed>   (and exit status 2)
    DONE
"""

import argparse
import sys

import paho.mqtt.client as mqtt

from pahoclient import finish, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["sub", "pub"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--transport", choices=["websockets", "tcp"], default="websockets")
    ap.add_argument("--path", default="/mqtt")
    ap.add_argument("--cafile")
    ap.add_argument("--header", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--cookie-bytes", type=int, default=0,
                    help="add a Cookie header with a value this long")
    ap.add_argument("--protocol", choices=["311", "5"], default="311")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--payload", default="")
    ap.add_argument("--qos", type=int, default=0)
    ap.add_argument("--count", type=int, default=1, help="sub: exit after this many messages")
    args = ap.parse_args()

    v5 = args.protocol == "5"
    client = mqtt.Client(protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, transport=args.transport)
    if args.transport == "websockets":
        headers = dict(h.split("=", 1) for h in args.header)
        if args.cookie_bytes:
            headers["Cookie"] = "c=" + "x" * (args.cookie_bytes - 2)
        client.ws_set_options(path=args.path, headers=headers or None)
    if args.cafile:
        client.tls_set(ca_certs=args.cafile)
    state = {"connected": False, "done": False, "rc": None, "received": 0}

    def on_connect(c, userdata, flags, rc, props=None):
        rc = getattr(rc, "value", rc)
        out("CONNECTED", rc)
        state["rc"] = rc
        if rc != 0:
            state["done"] = True
            return
        state["connected"] = True
        if args.mode == "sub":
            c.subscribe(args.topic, args.qos)

    def on_subscribe(c, userdata, mid, granted, props=None):
        out("SUBSCRIBED", ",".join(str(getattr(g, "value", g)) for g in granted))

    def on_message(c, userdata, msg):
        out("MSG", msg.topic, msg.payload.decode("utf-8", "replace"))
        state["received"] += 1
        if state["received"] >= args.count:
            state["done"] = True

    def on_disconnect(c, userdata, rc, props=None):
        out("DISCONNECTED", getattr(rc, "value", rc))
        state["done"] = True

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_disconnect = on_disconnect

    try:
        client.connect(args.host, args.port, 60)
    except Exception as e:  # the TLS or WebSocket handshake failed: say how
        out("ERROR", type(e).__name__, e)
        sys.exit(2)

    def loop_until(cond):
        while not cond():
            rc = client.loop(timeout=0.05)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                out("ERROR", "loop:", mqtt.error_string(rc))
                sys.exit(2)

    loop_until(lambda: state["connected"] or state["done"])
    if state["rc"] != 0:
        sys.exit(3)
    if args.mode == "pub":
        info = client.publish(args.topic, args.payload, args.qos)
        loop_until(info.is_published)
        out("PUBLISHED", info.mid)
    else:
        loop_until(lambda: state["done"])
    finish(client)


if __name__ == "__main__":
    main()

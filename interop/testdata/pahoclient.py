"""A paho-mqtt 1.6 client driven by the interop tests.

    pahoclient.py sub --port P [options] --sub FILTER:QOS[:nl][:rap][:rh=N] ...
                      [--count N | --exit-after-subscribe | --pings N]
                      [--then-pub TOPIC=PAYLOAD] [--unsub FILTER] [--reply]
    pahoclient.py pub --port P [options] --topic T --payload X [--qos Q] [--retain] [--repeat N] [properties]

nl, rap and rh are the MQTT 5 subscription options No Local, Retain As
Published and Retain Handling. --then-pub publishes (QoS 1) once subscribed,
--unsub unsubscribes once subscribed, --reply answers each message that has a
Response Topic with "re: PAYLOAD" and its Correlation Data.

It prints one line per event, so the Go test can wait for each:

    CONNECTED <rc> <session present 0|1>
    CONNACK <json: CONNACK properties> (MQTT 5)
    SUBSCRIBED <mid> <granted QoS or reason code>,...
    UNSUBSCRIBED <mid>
    MSG <json: topic, payload, qos, retain, props>
    PUBLISHED <mid>
    PINGRESP
    DISCONNECTED <rc or reason code>
    DONE

The network loop is driven by hand (client.loop) in one thread, so that the
acknowledgement of the last message is queued before DISCONNECT.
"""

import argparse
import json
import sys

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

PROTOCOLS = {"31": mqtt.MQTTv31, "311": mqtt.MQTTv311, "5": mqtt.MQTTv5}


def out(*words):
    print(*words, flush=True)


def props_dict(props):
    """The MQTT 5 properties of a received message, as JSON-friendly values."""
    d = {}
    if props is None:
        return d
    for name in ("ContentType", "MessageExpiryInterval", "ResponseTopic",
                 "PayloadFormatIndicator", "SubscriptionIdentifier", "TopicAlias"):
        if hasattr(props, name):
            d[name] = getattr(props, name)
    if hasattr(props, "CorrelationData"):
        d["CorrelationData"] = props.CorrelationData.decode("utf-8", "replace")
    if hasattr(props, "UserProperty"):
        d["UserProperty"] = [list(kv) for kv in props.UserProperty]
    return d


def publish_props(args, packet_type):
    """Properties for PUBLISH or the will from the command line, or None."""
    if args.protocol != "5":
        return None
    p = Properties(packet_type)
    used = False
    for kv in args.user_prop or []:
        k, _, v = kv.partition("=")
        p.UserProperty = (k, v)  # appends
        used = True
    if args.content_type is not None:
        p.ContentType = args.content_type
        used = True
    if args.message_expiry is not None:
        p.MessageExpiryInterval = args.message_expiry
        used = True
    if args.response_topic is not None:
        p.ResponseTopic = args.response_topic
        used = True
    if args.correlation_data is not None:
        p.CorrelationData = args.correlation_data.encode()
        used = True
    if args.payload_format is not None:
        p.PayloadFormatIndicator = args.payload_format
        used = True
    return p if used else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["sub", "pub"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--protocol", choices=sorted(PROTOCOLS), default="311")
    ap.add_argument("--id", default="")
    ap.add_argument("--no-clean", action="store_true",
                    help="clean_session=False (3.1, 3.1.1) or clean_start=False (5)")
    ap.add_argument("--session-expiry", type=int, help="MQTT 5 Session Expiry Interval")
    ap.add_argument("--topic-alias-maximum", type=int, help="MQTT 5 Topic Alias Maximum")
    ap.add_argument("--will-topic")
    ap.add_argument("--will-payload", default="")
    ap.add_argument("--will-qos", type=int, default=0)
    ap.add_argument("--will-retain", action="store_true")
    # sub
    ap.add_argument("--sub", action="append", default=[], metavar="FILTER:QOS")
    ap.add_argument("--count", type=int, default=0, help="exit after this many messages")
    ap.add_argument("--exit-after-subscribe", action="store_true")
    ap.add_argument("--exit-after-connect", action="store_true")
    ap.add_argument("--then-pub", metavar="TOPIC=PAYLOAD")
    ap.add_argument("--unsub")
    ap.add_argument("--reply", action="store_true")
    ap.add_argument("--keepalive", type=int, default=60)
    ap.add_argument("--pings", type=int, default=0, help="exit after this many PINGRESPs")
    # pub
    ap.add_argument("--topic")
    ap.add_argument("--payload", default="")
    ap.add_argument("--qos", type=int, default=0)
    ap.add_argument("--retain", action="store_true")
    ap.add_argument("--repeat", type=int, default=0,
                    help="publish to TOPIC/0 ... TOPIC/N-1 instead of TOPIC")
    # MQTT 5 PUBLISH (and will) properties
    ap.add_argument("--user-prop", action="append", metavar="KEY=VALUE")
    ap.add_argument("--content-type")
    ap.add_argument("--message-expiry", type=int)
    ap.add_argument("--response-topic")
    ap.add_argument("--correlation-data")
    ap.add_argument("--payload-format", type=int)
    args = ap.parse_args()

    proto = PROTOCOLS[args.protocol]
    v5 = proto == mqtt.MQTTv5
    state = {"connected": False, "subscribed": 0, "received": 0, "pings": 0, "done": False, "rc": None}

    client = mqtt.Client(client_id=args.id, protocol=proto,
                         clean_session=None if v5 else not args.no_clean)

    def on_connect(c, userdata, flags, rc, props=None):
        rc = getattr(rc, "value", rc)
        out("CONNECTED", rc, flags.get("session present", 0))
        if v5:
            out("CONNACK", json.dumps(props.json() if props else {}, sort_keys=True))
        state["rc"] = rc
        if rc != 0:
            state["done"] = True
            return
        state["connected"] = True
        if args.mode == "sub" and args.sub:
            topics = []
            for s in args.sub:
                f, q, *opts = s.split(":")
                if not v5:
                    topics.append((f, int(q)))
                    continue
                o = SubscribeOptions(qos=int(q), noLocal="nl" in opts,
                                     retainAsPublished="rap" in opts)
                for opt in opts:
                    if opt.startswith("rh="):
                        o.retainHandling = int(opt[3:])
                topics.append((f, o))
            c.subscribe(topics)
        elif args.exit_after_connect:
            state["done"] = True

    def on_subscribe(c, userdata, mid, granted, props=None):
        out("SUBSCRIBED", mid, ",".join(str(getattr(g, "value", g)) for g in granted))
        state["subscribed"] += 1
        if args.exit_after_subscribe:
            state["done"] = True
        if args.then_pub:
            topic, _, payload = args.then_pub.partition("=")
            c.publish(topic, payload, 1)
        if args.unsub:
            c.unsubscribe(args.unsub)

    def on_unsubscribe(c, userdata, mid, props=None, reasons=None):
        out("UNSUBSCRIBED", mid)

    def on_message(c, userdata, msg):
        out("MSG", json.dumps({
            "topic": msg.topic,
            "payload": msg.payload.decode("utf-8", "replace"),
            "qos": msg.qos,
            "retain": bool(msg.retain),
            "props": props_dict(getattr(msg, "properties", None)),
        }, sort_keys=True))
        state["received"] += 1
        if args.count and state["received"] >= args.count:
            state["done"] = True
        props = getattr(msg, "properties", None)
        if args.reply and props is not None and hasattr(props, "ResponseTopic"):
            rp = Properties(PacketTypes.PUBLISH)
            if hasattr(props, "CorrelationData"):
                rp.CorrelationData = props.CorrelationData
            c.publish(props.ResponseTopic, b"re: " + msg.payload, 1, properties=rp)

    def on_publish(c, userdata, mid):
        out("PUBLISHED", mid)

    def on_disconnect(c, userdata, rc, props=None):
        out("DISCONNECTED", getattr(rc, "value", rc))
        state["done"] = True

    def on_log(c, userdata, level, buf):
        if buf.startswith("Received PINGRESP"):
            out("PINGRESP")
            state["pings"] += 1
            if args.pings and state["pings"] >= args.pings:
                state["done"] = True

    client.on_connect = on_connect
    client.on_unsubscribe = on_unsubscribe
    client.on_log = on_log
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_publish = on_publish
    client.on_disconnect = on_disconnect

    if args.will_topic is not None:
        client.will_set(args.will_topic, args.will_payload, args.will_qos, args.will_retain,
                        properties=publish_props(args, PacketTypes.WILLMESSAGE))

    kw = {}
    if v5:
        kw["clean_start"] = not args.no_clean
        cp = Properties(PacketTypes.CONNECT)
        if args.session_expiry is not None:
            cp.SessionExpiryInterval = args.session_expiry
            kw["properties"] = cp
        if args.topic_alias_maximum is not None:
            cp.TopicAliasMaximum = args.topic_alias_maximum
            kw["properties"] = cp
    client.connect(args.host, args.port, args.keepalive, **kw)

    def loop_until(cond):
        while not cond():
            rc = client.loop(timeout=0.05)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                out("LOOP ERROR", rc, mqtt.error_string(rc))
                sys.exit(2)

    loop_until(lambda: state["connected"] or state["done"])
    if state["rc"] != 0:
        sys.exit(3)
    if args.mode == "pub":
        topics = [args.topic]
        if args.repeat:
            topics = ["%s/%d" % (args.topic, i) for i in range(args.repeat)]
        infos = [client.publish(t, args.payload, args.qos, args.retain,
                                properties=publish_props(args, PacketTypes.PUBLISH))
                 for t in topics]
        loop_until(lambda: all(i.is_published() for i in infos))
    else:
        loop_until(lambda: state["done"])
    finish(client)


def finish(client):
    """Disconnects, runs the loop until the socket is closed (loop returns
    an error once it is, after DISCONNECT) and prints DONE."""
    client.disconnect()
    while client.loop(timeout=0.05) == mqtt.MQTT_ERR_SUCCESS:
        pass
    out("DONE")


if __name__ == "__main__":
    main()

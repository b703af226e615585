"""
A small example subscriber
"""
# The tutorial's subscriber (docs/tutorial.md, step 5) ported to
# Python 3: print is a function and msg.payload is bytes, so it is decoded
# for "{2:s}". The format string keeps the tutorial's "{0}-20s" (meant as a
# field width), so each line starts with the topic followed by "-20s". The
# broker's port is the first argument because the test cannot use 1883.
import sys

import paho.mqtt.client as paho

def on_message(mosq, obj, msg):
    print("{0}-20s {1:d} {2:s}".format(msg.topic, msg.qos, msg.payload.decode()))
    mosq.publish('pong', 'ack', 0)

def on_publish(mosq, obj, mid):
    pass

if __name__ == '__main__':
    client = paho.Client()
    client.on_message = on_message
    client.on_publish = on_publish

    #client.tls_set('root.ca', certfile='c1.crt', keyfile='c1.key')
    client.connect("127.0.0.1", int(sys.argv[1]), 60)

    client.subscribe("kids/yolo", 0)
    client.subscribe("adult/#", 0)

    while client.loop() == 0:
        pass

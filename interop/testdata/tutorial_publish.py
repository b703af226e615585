"""
Publish some messages to queue
"""
# The tutorial's publisher (docs/tutorial.md, step 5), unchanged
# but for the broker's port, which the test passes as the first argument
# because it cannot use 1883.
import sys

import paho.mqtt.publish as publish


msgs = [{'topic': "kids/yolo", 'payload': "jump"},
        {'topic': "adult/pics", 'payload': "some photo"},
        {'topic': "adult/news", 'payload': "extra extra"},
        {'topic': "adult/news", 'payload': "super extra"}]

host = "localhost"
port = int(sys.argv[1])


if __name__ == '__main__':
    # publish a single message
    publish.single(topic="kids/yolo", payload="just do it", hostname=host, port=port)

    # publish multiple messages
    publish.multiple(msgs, hostname=host, port=port)

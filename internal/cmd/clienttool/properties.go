package clienttool

// -D / --property: MQTT 5 properties by command, parsed and checked as
// Mosquitto's client_props.c and libmosquitto's property checks do.

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/midge-mqtt/midge/packet"
)

// propCmd is a command -D can add properties to.
type propCmd uint8

const (
	propConnect propCmd = iota
	propPublish
	propSubscribe
	propUnsubscribe
	propDisconnect
	propWill
	nPropCmds
)

// propCmdTitle names a command in "Error in %s properties".
var propCmdTitle = [nPropCmds]string{"CONNECT", "PUBLISH", "SUBSCRIBE", "UNSUBSCRIBE", "DISCONNECT", "Will"}

// mqttCmd is one of libmosquitto's command numbers (mosquitto_string_to_command).
type mqttCmd uint8

const (
	cmdConnect mqttCmd = iota + 1
	cmdConnack
	cmdPublish
	cmdPuback
	cmdPubrec
	cmdPubrel
	cmdPubcomp
	cmdSubscribe
	cmdSuback
	cmdUnsubscribe
	cmdUnsuback
	cmdDisconnect
	cmdAuth
	cmdWill
)

var mqttCmdNames = map[string]mqttCmd{
	"connect": cmdConnect, "connack": cmdConnack, "publish": cmdPublish, "puback": cmdPuback,
	"pubrec": cmdPubrec, "pubrel": cmdPubrel, "pubcomp": cmdPubcomp, "subscribe": cmdSubscribe,
	"suback": cmdSuback, "unsubscribe": cmdUnsubscribe, "unsuback": cmdUnsuback,
	"disconnect": cmdDisconnect, "auth": cmdAuth, "will": cmdWill,
}

// propType is a property's data type, numbered as MQTT_PROP_TYPE_*
// (Mosquitto prints the number in "Error adding property").
type propType uint8

const (
	typeByte   propType = 1
	typeInt16  propType = 2
	typeInt32  propType = 3
	typeVarint propType = 4
	typeBinary propType = 5
	typeString propType = 6
	typePair   propType = 7
)

// propSessionExpiry is used by -x.
const propSessionExpiry = packet.PropSessionExpiry

// propNames maps Mosquitto's property names to identifiers and types.
var propNames = map[string]struct {
	id  packet.PropertyID
	typ propType
}{
	"payload-format-indicator":          {packet.PropPayloadFormat, typeByte},
	"message-expiry-interval":           {packet.PropMessageExpiry, typeInt32},
	"content-type":                      {packet.PropContentType, typeString},
	"response-topic":                    {packet.PropResponseTopic, typeString},
	"correlation-data":                  {packet.PropCorrelationData, typeBinary},
	"subscription-identifier":           {packet.PropSubscriptionID, typeVarint},
	"session-expiry-interval":           {packet.PropSessionExpiry, typeInt32},
	"assigned-client-identifier":        {packet.PropAssignedClientID, typeString},
	"server-keep-alive":                 {packet.PropServerKeepAlive, typeInt16},
	"authentication-method":             {packet.PropAuthMethod, typeString},
	"authentication-data":               {packet.PropAuthData, typeBinary},
	"request-problem-information":       {packet.PropRequestProblemInfo, typeByte},
	"will-delay-interval":               {packet.PropWillDelay, typeInt32},
	"request-response-information":      {packet.PropRequestResponseInfo, typeByte},
	"response-information":              {packet.PropResponseInfo, typeString},
	"server-reference":                  {packet.PropServerReference, typeString},
	"reason-string":                     {packet.PropReasonString, typeString},
	"receive-maximum":                   {packet.PropReceiveMaximum, typeInt16},
	"topic-alias-maximum":               {packet.PropTopicAliasMaximum, typeInt16},
	"topic-alias":                       {packet.PropTopicAlias, typeInt16},
	"maximum-qos":                       {packet.PropMaximumQoS, typeByte},
	"retain-available":                  {packet.PropRetainAvailable, typeByte},
	"user-property":                     {packet.PropUser, typePair},
	"maximum-packet-size":               {packet.PropMaximumPacketSize, typeInt32},
	"wildcard-subscription-available":   {packet.PropWildcardSubAvailable, typeByte},
	"subscription-identifier-available": {packet.PropSubscriptionIDAvailable, typeByte},
	"shared-subscription-available":     {packet.PropSharedSubAvailable, typeByte},
}

// propValue is one property given with -D, in the order given.
type propValue struct {
	id       packet.PropertyID
	num      uint32 // byte, two-byte, four-byte and variable integers
	str      string // strings, binary data, the value of a user property
	key      string // the name of a user property
	isBinary bool
}

// propList is the properties of one command, in order.
type propList []propValue

// Errors of libmosquitto's property checks, with mosquitto_strerror's words.
var (
	errPropProtocol  = errors.New("A network protocol error occurred when communicating with the broker.")
	errPropDuplicate = errors.New("Duplicate property in property list")
)

// parseProperty parses "command identifier value" (or "command
// user-property name value") starting at args[*i] (cfg_parse_property),
// leaving *i on its last word.
func (c *clientConfig) parseProperty(args []string, i *int) error {
	if *i+2 >= len(args) {
		return hintf("Error: --property argument given but not enough arguments specified.\n\n")
	}
	cmdName, propName := args[*i], args[*i+1]
	cmd, ok := mqttCmdNames[strings.ToLower(cmdName)]
	if !ok {
		return hintf("Error: Invalid command given in --property argument.\n\n")
	}
	info, ok := propNames[strings.ToLower(propName)]
	if !ok {
		return hintf("Error: Invalid property name given in --property argument.\n\n")
	}
	if !propAllowed(cmd, info.id) {
		return hintf("Error: %s property not allowed for %s in --property argument.\n\n", propName, cmdName)
	}
	var key, value string
	if info.id == packet.PropUser {
		if *i+3 >= len(args) {
			return hintf("Error: --property argument given but not enough arguments specified.\n\n")
		}
		key, value = args[*i+2], args[*i+3]
		*i += 3
	} else {
		value = args[*i+2]
		*i += 2
	}
	notSupported := hintf("Error: %s property not supported for %s in --property argument.\n\n", propName, cmdName)
	var list *propList
	switch cmd {
	case cmdConnect:
		list = &c.props[propConnect]
	case cmdPublish:
		if info.id == packet.PropTopicAlias {
			c.haveTopicAlias = true
		}
		if info.id == packet.PropSubscriptionID {
			return notSupported
		}
		list = &c.props[propPublish]
	case cmdSubscribe:
		list = &c.props[propSubscribe]
	case cmdUnsubscribe:
		list = &c.props[propUnsubscribe]
	case cmdDisconnect:
		list = &c.props[propDisconnect]
	case cmdWill:
		list = &c.props[propWill]
	case cmdAuth, cmdPuback, cmdPubrec, cmdPubrel, cmdPubcomp, cmdSuback, cmdUnsuback:
		return notSupported
	default:
		return &cmdError{hint: true} // CONNACK: refused without a word
	}
	p := propValue{id: info.id}
	switch info.typ {
	case typeByte, typeInt16, typeInt32, typeVarint:
		v := cAtol(value)
		limit := int64(math.MaxUint32)
		switch info.typ {
		case typeByte:
			limit = math.MaxUint8
		case typeInt16:
			limit = math.MaxUint16
		}
		if v < 0 || v > limit {
			return hintf("Error: Property value (%d) out of range for property %s.\n\n", v, propName)
		}
		if info.typ == typeVarint && v > packet.MaxSubscriptionID {
			return hintf("Error adding property %s %d\n", propName, info.typ)
		}
		p.num = uint32(v)
	case typeBinary:
		if len(value) > math.MaxUint16 {
			return hintf("Error: Property value too long for property %s.\n\n", propName)
		}
		p.str, p.isBinary = value, true
	case typeString:
		if len(value) > math.MaxUint16 || !validUTF8(value) {
			return hintf("Error adding property %s %d\n", propName, info.typ)
		}
		p.str = value
	case typePair:
		if len(key) > math.MaxUint16 || len(value) > math.MaxUint16 || !validUTF8(key) || !validUTF8(value) {
			return hintf("Error adding property %s %d\n", propName, info.typ)
		}
		p.key, p.str = key, value
	}
	*list = append(*list, p)
	return nil
}

// propAllowed reports whether a property may be used in a command
// (mosquitto_property_check_command).
func propAllowed(cmd mqttCmd, id packet.PropertyID) bool {
	switch id {
	case packet.PropPayloadFormat, packet.PropMessageExpiry, packet.PropContentType,
		packet.PropResponseTopic, packet.PropCorrelationData:
		return cmd == cmdPublish || cmd == cmdWill
	case packet.PropSubscriptionID:
		return cmd == cmdPublish || cmd == cmdSubscribe
	case packet.PropSessionExpiry:
		return cmd == cmdConnect || cmd == cmdConnack || cmd == cmdDisconnect
	case packet.PropAuthMethod, packet.PropAuthData:
		return cmd == cmdConnect || cmd == cmdConnack || cmd == cmdAuth
	case packet.PropAssignedClientID, packet.PropServerKeepAlive, packet.PropResponseInfo,
		packet.PropMaximumQoS, packet.PropRetainAvailable, packet.PropWildcardSubAvailable,
		packet.PropSubscriptionIDAvailable, packet.PropSharedSubAvailable:
		return cmd == cmdConnack
	case packet.PropWillDelay:
		return cmd == cmdWill
	case packet.PropRequestProblemInfo, packet.PropRequestResponseInfo:
		return cmd == cmdConnect
	case packet.PropServerReference:
		return cmd == cmdConnack || cmd == cmdDisconnect
	case packet.PropReasonString:
		return cmd != cmdConnect && cmd != cmdPublish && cmd != cmdSubscribe && cmd != cmdUnsubscribe
	case packet.PropReceiveMaximum, packet.PropTopicAliasMaximum, packet.PropMaximumPacketSize:
		return cmd == cmdConnect || cmd == cmdConnack
	case packet.PropTopicAlias:
		return cmd == cmdPublish
	case packet.PropUser:
		return true
	}
	return false
}

// propCmdMQTT maps a propCmd to libmosquitto's command.
var propCmdMQTT = [nPropCmds]mqttCmd{cmdConnect, cmdPublish, cmdSubscribe, cmdUnsubscribe, cmdDisconnect, cmdWill}

// checkAllProperties checks a command's properties as
// mosquitto_property_check_all does: values, commands and duplicates.
func checkAllProperties(cmd propCmd, list propList) error {
	for i, p := range list {
		switch p.id {
		case packet.PropRequestProblemInfo, packet.PropRequestResponseInfo, packet.PropMaximumQoS,
			packet.PropRetainAvailable, packet.PropWildcardSubAvailable,
			packet.PropSubscriptionIDAvailable, packet.PropSharedSubAvailable:
			if p.num > 1 {
				return errPropProtocol
			}
		case packet.PropMaximumPacketSize:
			if p.num == 0 {
				return errPropProtocol
			}
		case packet.PropReceiveMaximum, packet.PropTopicAlias:
			if p.num == 0 {
				return errPropProtocol
			}
		}
		if !propAllowed(propCmdMQTT[cmd], p.id) {
			return errPropProtocol
		}
		if p.id != packet.PropUser {
			for _, q := range list[i+1:] {
				if q.id == p.id {
					return errPropDuplicate
				}
			}
		}
	}
	return nil
}

// has reports whether the list has property id.
func (l propList) has(id packet.PropertyID) bool {
	for _, p := range l {
		if p.id == id {
			return true
		}
	}
	return false
}

// properties returns the list as packet.Properties.
func (l propList) properties() packet.Properties {
	var ps packet.Properties
	for _, p := range l {
		switch p.id {
		case packet.PropUser:
			ps.User = append(ps.User, packet.UserProperty{Key: p.key, Value: p.str})
		case packet.PropSubscriptionID:
			ps.SubscriptionIDs = append(ps.SubscriptionIDs, p.num)
		case packet.PropCorrelationData:
			ps.CorrelationData = []byte(p.str)
			ps.Set(p.id)
		case packet.PropAuthData:
			ps.AuthData = []byte(p.str)
			ps.Set(p.id)
		default:
			if info := propByID(p.id); info == typeString {
				ps.SetString(p.id, p.str)
			} else {
				ps.SetUint(p.id, p.num)
			}
		}
	}
	return ps
}

// propByID returns the type of property id.
func propByID(id packet.PropertyID) propType {
	for _, info := range propNames {
		if info.id == id {
			return info.typ
		}
	}
	return 0
}

// String describes a property for tests.
func (p propValue) String() string {
	if p.id == packet.PropUser {
		return fmt.Sprintf("%v(%q=%q)", p.id, p.key, p.str)
	}
	if p.str != "" || p.isBinary {
		return fmt.Sprintf("%v(%q)", p.id, p.str)
	}
	return fmt.Sprintf("%v(%d)", p.id, p.num)
}

package packet

import "math/bits"

// orderLen is how many entries Properties.order holds: enough for every
// property a PUBLISH or a will can carry, with a run of User Properties
// before, between and after each of them.
const orderLen = 16

// An order entry is a property identifier (a repeated Subscription
// Identifier takes one entry for all its values), or userRun|n for a run of
// n (1 to 127) User Properties; 0 ends the entries. Properties.order holds
// the entries in the order the decoder read the properties, so that Append
// writes them back in it: MQTT 5 mandates only that User Properties keep
// their order, but a broker that forwards what it was given unchanged is
// what Mosquitto's clients see.
const userRun = 0x80

// recorder builds Properties.order while the decoder reads properties.
type recorder struct {
	entry [orderLen]byte
	n     int
	full  bool // more entries than fit: the order is not kept
}

// add records that property id was read at pl. CONNACK keeps Mosquitto's
// order (connackOrder) and a PUBLISH its Subscription Identifiers first and
// its Message Expiry Interval last whatever the order they came in, so
// those are not recorded.
func (r *recorder) add(id PropertyID, pl place) {
	if pl == inConnack || pl == inPublish && (id == PropSubscriptionID || id == PropMessageExpiry) {
		return
	}
	e := byte(id)
	if id == PropUser {
		if r.n > 0 && r.entry[r.n-1]&userRun != 0 && r.entry[r.n-1] != userRun|0x7f {
			r.entry[r.n-1]++
			return
		}
		e = userRun | 1
	}
	if r.n == orderLen {
		r.full = true
		return
	}
	r.entry[r.n] = e
	r.n++
}

// order returns the order to keep in Properties.order: none when the
// properties came by identifier, the order Append uses when none is kept
// (so that decoding what Append wrote gives the same Properties), nor when
// they did not fit.
func (r *recorder) order() (o [orderLen]byte) {
	if r.full {
		return o
	}
	var prev byte
	for _, e := range r.entry[:r.n] {
		if e&userRun != 0 {
			e = byte(PropUser)
		}
		if e < prev {
			return r.entry
		}
		prev = e
	}
	return o
}

// forget removes property id from the recorded order, so that setting it
// again writes it by identifier, after the recorded ones.
func (p *Properties) forget(id PropertyID) {
	j := 0
	for _, e := range p.order {
		if e == 0 {
			break
		}
		if e == byte(id) || id == PropUser && e&userRun != 0 {
			continue
		}
		p.order[j] = e
		j++
	}
	clear(p.order[j:])
}

// appendOrdered appends the properties of mask allowed at pl: first those
// the decoder recorded, in their order, then the others by identifier, the
// Message Expiry Interval last in a PUBLISH.
func (p *Properties) appendOrdered(b []byte, mask uint64, pl place) []byte {
	users := 0 // User Properties written
	for _, e := range p.order {
		if e == 0 {
			break
		}
		if e&userRun != 0 {
			n := min(int(e&^userRun), len(p.User)-users)
			b = appendUsers(b, p.User[users:users+n])
			users += n
			continue
		}
		id := PropertyID(e)
		if mask&(1<<id) == 0 || propTable[id].places&pl == 0 ||
			pl == inPublish && (id == PropSubscriptionID || id == PropMessageExpiry) {
			continue
		}
		b = p.appendOne(b, id)
		mask &^= 1 << id
	}
	var last uint64
	if pl == inPublish {
		last = mask & (1 << PropMessageExpiry)
		mask &^= last
	}
	for _, m := range [2]uint64{mask, last} {
		for ; m != 0; m &= m - 1 {
			id := PropertyID(bits.TrailingZeros64(m))
			switch {
			case propTable[id].places&pl == 0:
			case id == PropUser:
				b = appendUsers(b, p.User[min(users, len(p.User)):])
			default:
				b = p.appendOne(b, id)
			}
		}
	}
	return b
}

// appendUsers appends the User Properties us.
func appendUsers(b []byte, us []UserProperty) []byte {
	for _, u := range us {
		b = appendString(append(b, byte(PropUser)), u.Key)
		b = appendString(b, u.Value)
	}
	return b
}

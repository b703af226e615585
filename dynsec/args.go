package dynsec

// kind is one kind of configuration entry as commands name it: clients,
// groups and roles are read, found and linked the same way.
type kind[T any] struct {
	key      string        // the argument that names an entry: "username", "groupname", "rolename"
	entries  map[string]*T // the state's entries by name
	notFound string        // the error when there is no entry of that name
}

func (c *cmd) clientKind() kind[client] {
	return kind[client]{"username", c.st.clients, "Client not found"}
}

func (c *cmd) groupKind() kind[group] {
	return kind[group]{"groupname", c.st.groups, "Group not found"}
}

func (c *cmd) roleKind() kind[role] { return kind[role]{"rolename", c.st.roles, "Role not found"} }

// arg reads the required argument that names an entry of k.
func (k kind[T]) arg(c *cmd) (string, string) { return c.required(k.key, "Invalid/missing "+k.key) }

// find reads the argument that names an entry of k, finds the entry and
// adds it to the change log.
func (k kind[T]) find(c *cmd) (*T, string) {
	name, msg := k.arg(c)
	if msg != "" {
		return nil, msg
	}
	v := k.entries[name]
	if v == nil {
		return nil, k.notFound
	}
	c.log = append(c.log, k.key+"="+name)
	return v, ""
}

// newName reads the name of an entry of k that a create command makes:
// empty and notUTF8 are the errors for an empty name and for one that is
// not valid UTF-8.
func (k kind[T]) newName(c *cmd, empty, notUTF8 string) (string, string) {
	name, msg := k.arg(c)
	switch {
	case msg != "":
		return "", msg
	case name == "":
		return "", empty
	case !validUTF8(name):
		return "", notUTF8
	}
	return name, ""
}

// newEntry reads what a create command for a group or role starts with:
// the new name (see newName), then its textname and textdescription.
func (k kind[T]) newEntry(c *cmd, empty, notUTF8 string) (string, texts, string) {
	name, msg := k.newName(c, empty, notUTF8)
	if msg != "" {
		return "", texts{}, msg
	}
	t, msg := c.texts()
	return name, t, msg
}

// findBoth reads the arguments that name an entry of a and one of b, in
// that order, finds both and adds them to the change log. If neither
// exists the error is a's, unless bFirst: Mosquitto looks the client up
// before the group in addGroupClient and removeGroupClient.
func findBoth[A, B any](c *cmd, a kind[A], b kind[B], bFirst bool) (*A, *B, string) {
	an, msg := a.arg(c)
	if msg != "" {
		return nil, nil, msg
	}
	bn, msg := b.arg(c)
	if msg != "" {
		return nil, nil, msg
	}
	va, vb := a.entries[an], b.entries[bn]
	switch {
	case vb == nil && (bFirst || va != nil):
		return nil, nil, b.notFound
	case va == nil:
		return nil, nil, a.notFound
	}
	c.log = append(c.log, a.key+"="+an, b.key+"="+bn)
	return va, vb, ""
}

// links reads the optional array argument listKey whose elements name
// entries of k, each {k.key: name, "priority": p}, and calls add for each
// in order (p clamped, noPriority if absent). notFound is the error for an
// element that names no entry. present reports whether the argument is
// there.
func links[T any](c *cmd, listKey string, k kind[T], notFound string, add func(v *T, priority int)) (present bool, msg string) {
	list, present, ok := c.o.array(listKey)
	if !present {
		return false, ""
	}
	bad := "'" + listKey + "' not an array or missing/invalid " + k.key
	if !ok {
		return true, bad
	}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return true, bad
		}
		name, present, ok := obj(m).str(k.key)
		if !present || !ok {
			return true, bad
		}
		p, _ := obj(m).integer("priority", noPriority)
		v := k.entries[name]
		if v == nil {
			return true, notFound
		}
		add(v, clampPriority(p))
	}
	return true, ""
}

// texts are the optional textname and textdescription arguments of a
// create or modify command.
type texts struct {
	name, desc       string
	hasName, hasDesc bool
}

// texts reads the textname and textdescription arguments.
func (c *cmd) texts() (texts, string) {
	var t texts
	var msg string
	if t.name, t.hasName, msg = c.text("textname", "Invalid/missing textname"); msg != "" {
		return t, msg
	}
	t.desc, t.hasDesc, msg = c.text("textdescription", "Invalid/missing textdescription")
	return t, msg
}

// apply sets the text name and description that t has.
func (t texts) apply(name, desc *string) {
	if t.hasName {
		*name = t.name
	}
	if t.hasDesc {
		*desc = t.desc
	}
}

// onEntry makes a command that starts by finding the entry of kind k its
// arguments name (kind.find) and fails if there is none.
func onEntry[T any](k func(*cmd) kind[T], run func(*cmd, *T) result) func(*cmd) result {
	return func(c *cmd) result {
		v, msg := k(c).find(c)
		if msg != "" {
			return fail(msg)
		}
		return run(c, v)
	}
}

// onPair makes a command that starts by finding the two entries its
// arguments name (findBoth) and fails if either is missing.
func onPair[A, B any](a func(*cmd) kind[A], b func(*cmd) kind[B], bFirst bool,
	run func(*cmd, *A, *B) result) func(*cmd) result {
	return func(c *cmd) result {
		va, vb, msg := findBoth(c, a(c), b(c), bFirst)
		if msg != "" {
			return fail(msg)
		}
		return run(c, va, vb)
	}
}

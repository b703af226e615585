package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// dynsec is POST /api/v1/dynsec: the body is a request of dynamic
// security's command API ({"commands":[...]}), answered with its response
// ({"responses":[...]}), run on behalf of the logged-in administrator as if
// published on $CONTROL/dynamic-security/v1: the same commands, logged
// with who made them. The Users page is built on it.
func (h *handler) dynsec(w http.ResponseWriter, r *http.Request, p *principal) {
	if h.cfg.DynamicSecurity == nil {
		writeError(w, http.StatusNotFound, "dynamic security is not configured (plugin mosquitto_dynamic_security.so with plugin_opt_config_file)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading the request: "+err.Error())
		return
	}
	if !json.Valid(body) {
		writeError(w, http.StatusBadRequest, "the request is not JSON")
		return
	}
	user := p.user
	if p.open {
		user = "(local, no logins)"
	}
	h.s.log.Info(fmt.Sprintf("web: dynamic security request of %s", actor(p, r)))
	resp := h.cfg.DynamicSecurity(user, body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(resp)
}

package api

import (
	"errors"
	"net/http"

	"github.com/mxlab/mxlab/msgstore"
)

func (a *api) listMessages(w http.ResponseWriter, _ *http.Request) {
	list := []msgstore.Message{}
	if s := a.cfg.Lab.Messages(); s != nil {
		list = s.List()
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": list})
}

func (a *api) getMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s := a.cfg.Lab.Messages()
	if s == nil {
		writeError(w, http.StatusNotFound, "no message %q (this lab keeps no messages)", id)
		return
	}
	m, err := s.Get(id)
	if err != nil {
		a.storeError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (a *api) rawMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s := a.cfg.Lab.Messages()
	if s == nil {
		writeError(w, http.StatusNotFound, "no message %q (this lab keeps no messages)", id)
		return
	}
	raw, err := s.Raw(id)
	if err != nil {
		a.storeError(w, id, err)
		return
	}
	w.Header().Set("Content-Type", "message/rfc822")
	w.Header().Set("Content-Disposition", `inline; filename="`+id+`.eml"`)
	w.Write(raw)
}

func (a *api) storeError(w http.ResponseWriter, id string, err error) {
	if errors.Is(err, msgstore.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no message %q", id)
		return
	}
	a.log.Error("api: reading a message", "id", id, "err", err)
	writeError(w, http.StatusInternalServerError, "reading message %q failed", id)
}

func (a *api) deleteMessages(w http.ResponseWriter, _ *http.Request) {
	n := 0
	if s := a.cfg.Lab.Messages(); s != nil {
		var err error
		if n, err = s.Clear(); err != nil {
			a.log.Error("api: clearing the message store", "err", err)
			writeError(w, http.StatusInternalServerError, "deleting the messages failed: %s", err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"deleted": n})
}

package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"flashgate/filters"
)

// apiError is the body of every error answer: a stable code for scripts
// and a message for people.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	reply(w, status, struct {
		Error apiError `json:"error"`
	}{apiError{code, msg}})
}

// failErr answers err: 404 for what the rules do not have, 503 for a
// change the shared store did not take (try again), else 400 (the caller's
// values were refused).
func failErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, filters.ErrNotFound):
		fail(w, http.StatusNotFound, "not_found", err.Error())
		return
	case errors.Is(err, filters.ErrUnavailable):
		fail(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	fail(w, http.StatusBadRequest, "bad_request", err.Error())
}

func reply(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // read by people and scripts, never embedded in HTML
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic("BUG: admin answer does not marshal: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// maxBody bounds a request body: every call takes a few small fields.
const maxBody = 64 << 10

// decode reads a JSON body strictly into v; on failure it has answered 400
// with what was wrong and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty body: want a JSON object")
		}
		fail(w, http.StatusBadRequest, "bad_json", "request body: "+strings.TrimPrefix(err.Error(), "json: "))
		return false
	}
	return true
}

// route is one API endpoint: the methods a path answers, each with its
// handler and whether it changes something.
type route struct {
	pattern string
	methods map[string]endpoint
}

type endpoint struct {
	mutating bool
	h        http.HandlerFunc
}

func (rt route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, ok := rt.methods[r.Method]
	if !ok && r.Method == http.MethodHead {
		e, ok = rt.methods[http.MethodGet]
	}
	if !ok {
		allow := make([]string, 0, len(rt.methods))
		for m := range rt.methods {
			allow = append(allow, m)
		}
		sort.Strings(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		fail(w, http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("%s %s: allowed %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
		return
	}
	e.h(w, r)
}

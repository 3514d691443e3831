package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"flashgate/admin"
	"flashgate/rules"
)

const ctlUsage = `usage: flashgate ctl [-addr HOST:PORT] [-token T] [-config FILE] [-json] COMMAND

commands:
  status                                   version, uptime, rules, last reload
  reload                                   read the rule files again
  rules                                    the serving rules (secrets redacted)
  purge --tag T | --url U | --prefix U | --all [--soft]
  items                                    stock of every item with a number
  stock [ROUTE] ITEM [--set N | --add N | --reset]
  queues                                   waiting rooms
  queue NAME --pause | --resume
  origins                                  origin servers: health, breaker, in flight, limits
  orders                                   purchase queues: waiting, in delivery, outcomes
  hotkeys                                  the hot set
  switch [list]                            Plan B switches that are on
  switch close|degrade|stale_only ROUTE [--message M]
  switch scale ROUTE --factor F
  switch down|up ORIGIN SERVER
  switch off NAME                          e.g. close:buy, server:shop/10.0.0.11:8080

The admin listener and token come from -addr and -token, else from
FLASHGATE_ADMIN_ADDR and FLASHGATE_ADMIN_TOKEN, else from the admin:
section of -config (default gateway.yaml). See docs/admin.md.
`

// ctlClient calls the admin API of a running gateway.
type ctlClient struct {
	base, token string
	json        bool
	out         io.Writer
	http        *http.Client
}

// ctl runs `flashgate ctl`: 0 done, 1 the gateway refused or could not be
// reached, 2 a usage error.
func ctl(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flashgate ctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, ctlUsage) }
	addr := fs.String("addr", "", "admin listener host:port")
	token := fs.String("token", "", "admin token")
	config := fs.String("config", "gateway.yaml", "rules file whose admin: section names the listener and token")
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	timeout := fs.Duration("timeout", 10*time.Second, "give up on the gateway after this long")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, ctlUsage)
		return 2
	}
	base, tok, err := ctlTarget(*addr, *token, *config)
	if err != nil {
		fmt.Fprintln(stderr, "flashgate ctl:", err)
		return 1
	}
	c := &ctlClient{base: base, token: tok, json: *asJSON, out: stdout, http: &http.Client{Timeout: *timeout}}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	run, ok := ctlCommands[cmd]
	if !ok {
		fmt.Fprintf(stderr, "flashgate ctl: unknown command %q\n\n%s", cmd, ctlUsage)
		return 2
	}
	if err := run(c, rest); err != nil {
		fmt.Fprintln(stderr, "flashgate ctl:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError is a command line the command cannot run.
type usageError string

func (e usageError) Error() string { return string(e) }

// ctlTarget resolves the listener's base URL and the token: flags, then
// the environment, then the rules file's admin: section.
func ctlTarget(addr, token, config string) (base, tok string, err error) {
	addr = firstOf(addr, os.Getenv("FLASHGATE_ADMIN_ADDR"))
	token = firstOf(token, os.Getenv("FLASHGATE_ADMIN_TOKEN"))
	if addr == "" || token == "" {
		cfg, lerr := rules.LoadPartial(config)
		switch {
		case cfg == nil && addr == "":
			return "", "", fmt.Errorf("no admin address: give -addr or FLASHGATE_ADMIN_ADDR, or a rules file with an admin: section (%v)", lerr)
		case cfg != nil && cfg.Admin == nil && addr == "":
			return "", "", fmt.Errorf("%s has no admin: section: give -addr or FLASHGATE_ADMIN_ADDR", config)
		case cfg != nil && cfg.Admin != nil:
			addr = firstOf(addr, dialable(cfg.Admin.Listen))
			if token == "" {
				if token, err = admin.ReadToken(cfg); err != nil {
					return "", "", err
				}
			}
		}
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimSuffix(addr, "/"), token, nil
}

// dialable turns a listen address into one to connect to: an empty or
// unspecified host means this machine.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func firstOf(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// call sends one API call and decodes its JSON answer into out (when not
// nil). With -json the answer is printed as received and printed reports
// true.
func (c *ctlClient) call(method, path string, body any, out any) (printed bool, err error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return false, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("cannot reach the admin listener at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return false, err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			return false, fmt.Errorf("%s (%s)", e.Error.Message, e.Error.Code)
		}
		return false, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if c.json {
		_, err = c.out.Write(data)
		return true, err
	}
	if out != nil {
		return false, json.Unmarshal(data, out)
	}
	return false, nil
}

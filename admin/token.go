package admin

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"flashgate/rules"
)

// ErrTokenNotCreated is wrapped by LoadToken's error when the token file
// was missing and could not be created (a read-only rules directory, as
// in the container image).
var ErrTokenNotCreated = errors.New("cannot create the admin token file")

// minTokenLen is the shortest token accepted: a guessable token on an
// API that purges and sells out items is worse than none.
const minTokenLen = 16

// LoadToken returns the admin token of cfg's admin section: from
// admin.token_env's variable, or admin.token_file's content. A token file
// that does not exist is created (mode 0600) with a random token, and
// created reports it, so the shipped rules work out of the box and
// `flashgate ctl` reads the same file. "" when the section names neither.
func LoadToken(cfg *rules.Config) (token string, created bool, err error) {
	a := cfg.Admin
	switch {
	case a == nil:
		return "", false, nil
	case a.TokenEnv != "":
		token = strings.TrimSpace(os.Getenv(a.TokenEnv))
		if token == "" {
			return "", false, fmt.Errorf("admin.token_env: the variable %s is not set", a.TokenEnv)
		}
	case a.TokenFile != "":
		path := cfg.AdminTokenPath()
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			if token, err = createToken(path); err != nil {
				return "", false, fmt.Errorf("%w %s: %w", ErrTokenNotCreated, path, err)
			}
			return token, true, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("admin.token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	default:
		return "", false, nil
	}
	if len(token) < minTokenLen {
		return "", false, fmt.Errorf("admin token is %d characters: want at least %d", len(token), minTokenLen)
	}
	return token, false, nil
}

// ReadToken is LoadToken for clients (`flashgate ctl`): it never creates
// the file.
func ReadToken(cfg *rules.Config) (string, error) {
	a := cfg.Admin
	switch {
	case a == nil:
		return "", nil
	case a.TokenEnv != "":
		return strings.TrimSpace(os.Getenv(a.TokenEnv)), nil
	case a.TokenFile != "":
		b, err := os.ReadFile(cfg.AdminTokenPath())
		if err != nil {
			return "", fmt.Errorf("admin.token_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

func createToken(path string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return "", err
	}
	return token, f.Close()
}

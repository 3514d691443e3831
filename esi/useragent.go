package esi

import "bytes"

// The User-Agent dictionary of ESI 1.0 §4.1.1 has three keys: browser
// ("MOZILLA", "MSIE" or "OTHER"), version (the browser's version string)
// and os ("WIN", "MAC", "UNIX" or "OTHER"). The note leaves how to tell
// them to the processor; this one reads the header as the browsers of
// the note's time wrote it, and today's still do:
//
//   - browser: MSIE when the header names "MSIE " (Internet Explorer up
//     to 10), else MOZILLA when it starts with "Mozilla/" (every current
//     browser, IE 11 included), else OTHER (curl, bots, apps).
//   - version: for MSIE the token after "MSIE " ("10.0"), else the version
//     of the header's first product ("5.0" for Mozilla/5.0, "8.4.0" for
//     curl/8.4.0); empty when it has none.
//   - os: WIN when the header names "Win" (Windows NT, Win64, Windows
//     Phone), else MAC for "Mac" (macOS, and iOS, which says "like Mac
//     OS X"), else UNIX for "X11", "Linux" (Android too), "BSD", "SunOS",
//     "CrOS" or "Unix", else OTHER.
//
// An absent or empty header gives empty values, so that a default
// ($(HTTP_USER_AGENT{os}|'WIN')) applies. The values are constants or
// slices of the header: nothing is allocated.

var (
	uaMSIE    = []byte("MSIE")
	uaMozilla = []byte("MOZILLA")
	uaWin     = []byte("WIN")
	uaMac     = []byte("MAC")
	uaUnix    = []byte("UNIX")
	uaOther   = []byte("OTHER")
	uaUnixes  = [...][]byte{[]byte("X11"), []byte("Linux"), []byte("BSD"), []byte("SunOS"), []byte("CrOS"), []byte("Unix")}
)

func userAgentKey(key string) bool { return key == "browser" || key == "os" || key == "version" }

// userAgentPart returns the User-Agent dictionary's value for key.
func userAgentPart(ua []byte, key string) []byte {
	if len(ua) == 0 {
		return nil
	}
	switch key {
	case "browser":
		switch {
		case bytes.Contains(ua, []byte("MSIE ")):
			return uaMSIE
		case bytes.HasPrefix(ua, []byte("Mozilla/")):
			return uaMozilla
		}
		return uaOther
	case "version":
		return userAgentVersion(ua)
	case "os":
		switch {
		case bytes.Contains(ua, []byte("Win")):
			return uaWin
		case bytes.Contains(ua, []byte("Mac")):
			return uaMac
		}
		for _, u := range uaUnixes {
			if bytes.Contains(ua, u) {
				return uaUnix
			}
		}
		return uaOther
	}
	return nil
}

// userAgentVersion is the token after "MSIE ", else the version of the
// first product ("name/version").
func userAgentVersion(ua []byte) []byte {
	if i := bytes.Index(ua, []byte("MSIE ")); i >= 0 {
		return token(ua[i+len("MSIE "):])
	}
	product := token(ua)
	if _, v, ok := bytes.Cut(product, []byte("/")); ok {
		return v
	}
	return nil
}

// token returns s up to the first space, ';' or ')'.
func token(s []byte) []byte {
	if i := bytes.IndexAny(s, " ;)"); i >= 0 {
		return s[:i]
	}
	return s
}

package esi

// Template is a parsed page: literal byte ranges of the page interleaved with
// ESI constructs. It is immutable after Parse and safe for concurrent use by
// any number of assemblies; store it with the cached page so a page is parsed
// once, not per request. It retains the page slice given to Parse (no copy):
// the caller must not modify those bytes afterwards.
type Template struct {
	src      []byte
	nodes    []node
	esi      bool // the page holds ESI markup
	includes int  // esi:include elements in the page (all branches)
	mayFail  bool // an include outside esi:try lacks onerror="continue"
	lastFail int  // index in nodes of the last node that can fail the page; -1: none
	reqIndep bool // no variable anywhere: see RequestIndependent
}

// HasESI reports whether the page holds ESI markup. When false the page is
// one literal and can be served as is, skipping assembly. When true the
// assembled body differs from the stored one: the caller must drop the
// shell's ETag, Last-Modified and Content-Length.
func (t *Template) HasESI() bool { return t.esi }

// Source returns the page the template was parsed from (not a copy).
func (t *Template) Source() []byte { return t.src }

// RequestIndependent reports whether assembling the page cannot depend on
// the page request: no $(...) variable in any include src or alt, in any
// esi:vars text or in any esi:when test (esi:vars text without a variable
// is plain text and does not count). The fragments fetched and the bytes
// written then depend only on the page's URL path (relative src resolve
// against its directory) and on what the Fetcher answers, so a caller may
// reuse an assembled page for another request of the same path while its
// fragments are unchanged. A page without ESI markup is request
// independent. Computed by Parse; only the page's own markup is covered,
// not that of nested templates its fragments hold.
func (t *Template) RequestIndependent() bool { return t.reqIndep }

// Includes returns the number of esi:include elements in the page, counting
// every branch of esi:try and esi:choose.
func (t *Template) Includes() int { return t.includes }

type nodeKind uint8

const (
	kLiteral   nodeKind = iota // lit written as is
	kText                      // text inside esi:vars: parts expanded, values HTML-escaped
	kInclude                   // esi:include
	kTry                       // esi:try
	kChoose                    // esi:choose
	kAttempt                   // transient while parsing esi:try
	kExcept                    // transient while parsing esi:try
	kWhen                      // transient while parsing esi:choose
	kOtherwise                 // transient while parsing esi:choose
)

// node is one element of a template body. Only the field its kind names is set.
type node struct {
	kind   nodeKind
	off    int // byte offset in the page
	lit    []byte
	text   []part
	inc    *include
	try    *tryBlock
	choose *chooseBlock
	test   *expr  // kWhen
	body   []node // kAttempt, kExcept, kWhen, kOtherwise
}

type include struct {
	off             int
	src             []part
	alt             []part // nil: no alt
	static          []byte // src resolved at parse time: a path-absolute src without variables
	onErrorContinue bool   // onerror="continue"
	ord             int    // 1 for the template's first include, in document order
	over            bool   // past ParseOptions.MaxIncludes: fails with ErrTooManyIncludes
}

type tryBlock struct {
	attempt []node
	except  []node
}

type chooseBlock struct {
	whens     []whenBranch
	otherwise []node
}

type whenBranch struct {
	test *expr
	body []node
}

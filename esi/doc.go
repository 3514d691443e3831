// Package esi parses and assembles Edge Side Includes (ESI 1.0, W3C note
// 2001) as Varnish and Akamai users know them, and renders the same
// templates as client-side includes (CSI).
//
// # Use
//
// Parse a page once when it enters the cache and store the *Template with
// it; Template.HasESI false means serve the bytes as they are. Per request,
// call Assembler.Assemble (or RenderCSI) with a Page describing the
// request. Fragments come from a Fetcher the caller implements (route
// matching, cache, origin per fragment); a NowFetcher fast path lets ready
// fragments be used inline with no goroutine. Package esi imports no other
// flashgate package.
//
// When to assemble is the caller's decision (a route with esi on, or
// WantsESI on the origin's Surrogate-Control); announce support to origins
// with a Surrogate-Capability header built by AppendCapability.
//
// # Language
//
//   - <esi:include src="..." alt="..." onerror="continue"/> (also with
//     </esi:include>). Other attributes (Akamai's dca, ttl, maxwait, ...)
//     are ignored.
//   - <esi:remove>...</esi:remove>: dropped unparsed. A "</esi:remove>"
//     inside a CDATA section (<![CDATA[ ... ]]>) in it is CDATA, not the
//     end. An esi:remove without an end removes to the end of the page
//     (or of the <!--esi comment holding it), rather than failing the
//     page: its content is what only clients without ESI should see, and
//     the note gives it no other meaning.
//   - <esi:comment text="..."/>: dropped.
//   - <!--esi ... -->: the wrapper is dropped, the inside processed.
//   - An ordinary HTML comment <!-- ... --> is text: the ESI markup in it
//     is commented out and not executed (the comment is passed on as it
//     is, which browsers ignore). As in HTML, one without "-->" runs to
//     the end of the page, and "<!-->" and "<!--->" are empty comments.
//     Only the <!--esi form is processed.
//   - <esi:try><esi:attempt>...</esi:attempt><esi:except>...</esi:except></esi:try>:
//     esi:except is optional (the note requires it; Akamai too).
//   - <esi:vars>...</esi:vars>: $(VAR) in its text is replaced, values
//     HTML-escaped.
//   - $(HTTP_HOST), $(HTTP_COOKIE{name}), $(HTTP_COOKIE),
//     $(QUERY_STRING{name}), $(QUERY_STRING), $(HTTP_HEADER{name}) (an
//     Akamai extension), $(HTTP_REFERER), $(HTTP_USER_AGENT) (the header),
//     $(HTTP_USER_AGENT{browser}) (MOZILLA, MSIE or OTHER),
//     $(HTTP_USER_AGENT{os}) (WIN, MAC, UNIX or OTHER),
//     $(HTTP_USER_AGENT{version}) (the browser's version: see useragent.go
//     for how the header is read; other keys are a parse error),
//     $(HTTP_ACCEPT_LANGUAGE{lang}) ("true"/"false"), each with an optional
//     default: $(HTTP_COOKIE{id}|'anon') used when the value is absent or
//     empty. Allowed in src, alt, test and esi:vars text. In src/alt values
//     are percent-encoded (all but RFC 3986 unreserved bytes), so a cookie
//     cannot add path segments, parameters or a host; in esi:vars text they
//     are HTML-escaped. Defaults are the author's text and written as is.
//     Inside esi:vars a "$(" that is not a variable (jQuery) stays text;
//     in attributes it is a parse error.
//   - Relative src resolve against the page URL, or inside a nested
//     fragment against that fragment's URL (dot segments resolved; ".."
//     above the root is ErrBadSrc).
//   - <esi:choose><esi:when test="...">...</esi:when><esi:otherwise>...
//     </esi:otherwise></esi:choose>: tests as ESI 1.0 §5 writes them:
//     comparisons == != < <= > >= of variables, 'strings' and numbers
//     (10, -3, 10.0), negated with ! and combined with & and | (&& and ||
//     are accepted too), grouped with ( ); precedence comparison, !, &, |.
//     Numbers compare numerically and exactly (10 == 10.0), anything else
//     bytewise. A comparison with an empty or undefined operand is false,
//     whatever the operator (so $(HTTP_COOKIE{none}) != 'x' is false); a
//     bare operand is true when non-empty and not "false".
//
// Element and attribute names are case-sensitive, as in XML (Varnish and
// Akamai alike): <ESI:include> is plain text.
//
// esi:inline, esi:eval, esi:assign and other elements are ErrUnsupported
// parse errors rather than silently dropped, so an operator sees them.
//
// # Failures (ESI 1.0 note semantics)
//
// An include fails when its URL is refused (ErrBadSrc, ErrHostNotAllowed),
// past its template's first MaxIncludes (ErrTooManyIncludes), too deep
// (ErrDepth), a loop (ErrLoop), over budget (ErrBudget), the fetch
// errs or times out, the status is not 2xx (ErrStatus), the body is too
// large (ErrFragmentTooLarge), or a nested template fails. Fragments are
// bytes: a body with NUL or any other binary bytes is included as it is
// (a fragment parsed as a template that holds a NUL is no template, and
// is included unparsed, as a page would be served). Then alt is tried; if
// it fails too, onerror="continue" drops the include silently; otherwise the failure goes to the innermost esi:try,
// whose attempt output is discarded and esi:except rendered; with no try
// the page fails: Assemble returns an *IncludeError. Config.ContinueOnError
// switches to Varnish's "always continue". Bounds degrade rather than
// refuse: a template with more includes than MaxIncludes is assembled,
// the includes past the bound failing as above; an include deeper than
// MaxDepth is dropped whatever its onerror (as Varnish does), so the
// levels within the bound are assembled and their templates do not fail.
//
// A failed page must get an error status (ESI 1.0 §3.1), which a stream
// whose head has left cannot give. Page.Ready resolves that for a
// streaming caller: the output is held up to and including the last
// top-level element that can fail the page (an include without
// onerror="continue" outside esi:try, with or without alt, since the alt
// can fail too; an esi:try whose esi:except can; an esi:choose any of
// whose branches can), then Ready is called and the rest streams. A page
// whose includes all have onerror="continue" or sit in esi:try streams
// from its first byte.
//
// # Where Varnish and Akamai differ, and what this package does
//
//   - Fragment status: Varnish includes any body whatever the status
//     (unless its esi_include_onerror feature is on); Akamai treats 4xx/5xx
//     as failure. Here only 2xx succeeds.
//   - Failed include without onerror: Akamai fails the page (the note);
//     Varnish continues. Here the note, unless Config.ContinueOnError.
//   - alt: Akamai supports it; Varnish ignores it. Supported.
//   - esi:try/choose/vars and variables: Akamai only (Varnish Cache has
//     none of them). Supported as above.
//   - Variables in esi:vars text: Akamai writes values raw; here they are
//     HTML-escaped (a cookie must not inject markup into a cached shell).
//   - Unknown ESI elements: Varnish drops them; Akamai errors. Here a parse
//     error. A malformed page: Varnish passes it through with warnings;
//     here Parse returns a *ParseError with the byte offset and the caller
//     should treat the origin response as bad (not cache it, answer 502 or
//     serve stale), never send raw ESI markup to browsers.
//   - Depth: Varnish max_esi_depth 5 (default), Akamai 5 levels. MaxDepth
//     5; past it the include is dropped, as in Varnish.
//   - Absolute src: Varnish fetches from the same backend with the URL's
//     Host; Akamai fetches any host. Here only hosts Config.HostAllowed
//     accepts (configured origins); nothing else is ever requested.
//   - Gzip'd fragments: both inflate. Here bounded by MaxFragmentBytes.
//   - Fragment fetch order: Varnish fetches includes one after another
//     (parallel ESI is Varnish Enterprise); Akamai in parallel. Here in
//     parallel, at most MaxParallel per page, in template order, output
//     streamed in order.
//
// # Hostile input
//
// Parse is linear in the page (its memory too: a template's nodes are a
// small constant per element), refuses pages over MaxPageBytes, blocks
// nested deeper than MaxNesting, tags and blocks without an end
// (ErrUnclosed, with the offset of the start; esi:remove and HTML
// comments excepted, see above), and ESI pages holding a NUL byte
// (ErrBinary: serve them unassembled). Invalid UTF-8 is passed through as bytes, since legacy
// pages in Latin-1 or GBK are valid HTML. A page without "<esi:" or
// "<!--esi" is found with two memchr-speed scans and not parsed further.
// Assembly is bounded by MaxIncludes includes per template (no fetch for
// the others), MaxFetches fetches, MaxFragmentBytes per
// fragment, MaxDepth, FragmentTimeout per fetch and PageTimeout overall:
// output is at most page + MaxFetches × MaxFragmentBytes plus nested
// templates' literals, and Assemble never waits past PageTimeout.
//
// # Caching the result
//
// An assembled page is not the shell: drop the shell's ETag, Last-Modified
// and Content-Length whenever Template.HasESI. Result.Personal (a per-user
// fragment, or a cookie/header variable that shaped the output) means
// "Cache-Control: private, no-store"; otherwise cap the downstream max-age
// at Result.MaxAge, and prefer a short one when Result.Failed > 0.
//
// # Client-side includes
//
// RenderCSI replaces each include with <span data-fg-csi="URL"></span>
// and adds one small script (before the last </body>) that fetches the
// fragments with fetch(url, {credentials: "same-origin"}) and swaps them
// in; on failure it tries data-fg-alt, then removes the placeholder.
// Nested ESI in fragments is assembled by the gateway when the browser
// asks for them. A nonce may be given for a Content-Security-Policy.
package esi

package rules

// LoadPartial is Load for `flashgate -check`: on errors it returns them
// together with the Config built from what did load, so that the checks
// of the compile (filters, cache, ESI settings) can report their own
// errors in the same run instead of after the first ones are fixed. The
// Config is nil only when the main file cannot be read. A Config returned
// with an error is incomplete (routes may lack a pattern or name an
// unknown origin): it must never serve.
func LoadPartial(path string) (*Config, error) {
	data, err := readRuleFile(path)
	if err != nil {
		return nil, Errors{{Pos: Pos{File: path}, Msg: "cannot read rule file: " + reason(err)}}
	}
	return loadBytes(path, data)
}

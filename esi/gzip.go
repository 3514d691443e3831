package esi

import (
	"bytes"
	"compress/gzip"
	"io"
	"sync"
)

var gzipReaders sync.Pool // *gzip.Reader

// gunzip inflates a gzip body into dst, reading at most limit+1 bytes so
// a gzip bomb costs at most limit bytes of memory before it is refused
// with ErrFragmentTooLarge.
func gunzip(dst *bytes.Buffer, body []byte, limit int) error {
	src := bytes.NewReader(body)
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(src)
	} else {
		err = zr.Reset(src)
	}
	if err != nil {
		return err
	}
	defer gzipReaders.Put(zr)
	n, err := dst.ReadFrom(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return err
	}
	if n > int64(limit) {
		return ErrFragmentTooLarge
	}
	return nil
}

// Gunzip inflates a gzip body, refusing more than limit bytes with
// ErrFragmentTooLarge. A Fetcher that caches gzip'd fragments uses it to
// Parse a fragment that is itself an ESI template.
func Gunzip(body []byte, limit int) ([]byte, error) {
	var b bytes.Buffer
	if err := gunzip(&b, body, limit); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

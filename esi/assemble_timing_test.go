package esi

import (
	"bytes"
	"context"
	"strconv"
	"testing"
)

var benchSink int

// BenchmarkAssemble assembles a ~16 KiB page with 3 and 50 ready
// includes; "copy" writes the same assembled bytes as one literal, the
// cost of a plain cache hit, for the ratio.
func BenchmarkAssemble(b *testing.B) {
	for _, n := range []int{3, 50} {
		page, fetcher, assembled := benchPage(n)
		tpl, err := Parse(page, ParseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		a, err := NewAssembler(Config{Fetcher: fetcher})
		if err != nil {
			b.Fatal(err)
		}
		req := &Page{Host: []byte("shop.test"), Path: []byte("/item/1")}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var w bytes.Buffer
			b.ReportAllocs()
			b.SetBytes(int64(len(assembled)))
			for b.Loop() {
				w.Reset()
				if _, err := a.Assemble(context.Background(), &w, tpl, req); err != nil {
					b.Fatal(err)
				}
			}
			benchSink += w.Len()
		})
		b.Run(strconv.Itoa(n)+"/workers", func(b *testing.B) {
			async, _ := NewAssembler(Config{Fetcher: asyncMap{fetcher}})
			var w bytes.Buffer
			b.ReportAllocs()
			b.SetBytes(int64(len(assembled)))
			for b.Loop() {
				w.Reset()
				if _, err := async.Assemble(context.Background(), &w, tpl, req); err != nil {
					b.Fatal(err)
				}
			}
			benchSink += w.Len()
		})
		b.Run(strconv.Itoa(n)+"/copy", func(b *testing.B) {
			var w bytes.Buffer
			b.ReportAllocs()
			b.SetBytes(int64(len(assembled)))
			for b.Loop() {
				w.Reset()
				w.Write(assembled)
			}
			benchSink += w.Len()
		})
	}
}

// asyncMap hides FetchNow: every fragment goes through a worker goroutine.
type asyncMap struct{ f *mapFetcher }

func (a asyncMap) Fetch(ctx context.Context, req *FragmentRequest) (*Fragment, error) {
	return a.f.Fetch(ctx, req)
}

func BenchmarkParse(b *testing.B) {
	for _, n := range []int{3, 50} {
		page, _, _ := benchPage(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				tpl, err := Parse(page, ParseOptions{})
				if err != nil {
					b.Fatal(err)
				}
				benchSink += len(tpl.nodes)
			}
		})
	}
	b.Run("no-esi", func(b *testing.B) {
		_, _, plain := benchPage(50)
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			tpl, _ := Parse(plain, ParseOptions{})
			benchSink += len(tpl.nodes)
		}
	})
}

package token

import "testing"

func BenchmarkVerify(b *testing.B) {
	kr := mustKeyring(b, 0, Key{ID: 1, Secret: secret('a')}, Key{ID: 2, Secret: secret('b')})
	c := sample()
	tok := kr.Sign(nil, &c)
	b.ReportAllocs()
	b.SetBytes(EncodedLen)
	b.RunParallel(func(pb *testing.PB) {
		var got Claims
		for pb.Next() {
			if err := kr.Verify(&got, tok, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerifySerial(b *testing.B) {
	kr := mustKeyring(b, 0, Key{ID: 1, Secret: secret('a')})
	c := sample()
	tok := kr.Sign(nil, &c)
	b.ReportAllocs()
	var got Claims
	cpu := cpuNow()
	for b.Loop() {
		if err := kr.Verify(&got, tok, t0); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}

func BenchmarkVerifyForged(b *testing.B) {
	kr := mustKeyring(b, 0, Key{ID: 1, Secret: secret('a')})
	c := sample()
	tok := kr.Sign(nil, &c)
	tok[100] ^= 1
	b.ReportAllocs()
	var got Claims
	cpu := cpuNow()
	for b.Loop() {
		if kr.Verify(&got, tok, t0) == nil {
			b.Fatal("forged token verified")
		}
	}
	reportCPU(b, cpu)
}

func BenchmarkSign(b *testing.B) {
	kr := mustKeyring(b, 0, Key{ID: 1, Secret: secret('a')})
	c := sample()
	buf := make([]byte, 0, EncodedLen)
	b.ReportAllocs()
	cpu := cpuNow()
	for b.Loop() {
		buf = kr.Sign(buf[:0], &c)
	}
	reportCPU(b, cpu)
}

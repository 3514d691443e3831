package filters

import (
	"crypto/sha256"
	"math/bits"
)

// Proof of work: find a decimal counter n such that
// SHA-256(challenge ":" n) starts with at least `difficulty` zero bits. A
// browser finds one in about 2^difficulty hashes (difficulty 16: ~65 000,
// well under a second with powScript); checking costs one hash. It prices
// each pass in CPU time, which slows a bot farm where a text question may
// not. It needs JavaScript.

// Difficulty bounds: below 8 the work is free, above 26 phones take minutes.
const (
	minPowDifficulty = 8
	maxPowDifficulty = 26
	maxPowAnswerLen  = 20 // decimal digits of a uint64
)

// powSolved reports whether answer (decimal digits) solves challenge at
// difficulty. 0 allocs.
func powSolved(challenge, answer []byte, difficulty int) bool {
	if len(answer) == 0 || len(answer) > maxPowAnswerLen || len(challenge) > 128 {
		return false
	}
	for _, c := range answer {
		if c < '0' || c > '9' {
			return false
		}
	}
	var buf [128 + 1 + maxPowAnswerLen]byte
	n := copy(buf[:], challenge)
	buf[n] = ':'
	n++
	n += copy(buf[n:], answer)
	sum := sha256.Sum256(buf[:n])
	return leadingZeroBits(sum[:]) >= difficulty
}

func leadingZeroBits(b []byte) int {
	n := 0
	for _, c := range b {
		if c != 0 {
			return n + bits.LeadingZeros8(c)
		}
		n += 8
	}
	return n
}

// powScript solves the challenge in the page's form#fg-quiz (fields
// challenge, answer; data-difficulty on the form) and submits it. SHA-256 is
// written out because crypto.subtle exists only on HTTPS and localhost
// origins, and the gateway may sit behind a plain-HTTP CDN hop.
const powScript = `<script>
(function(){
var K=[0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2];
var W=new Array(64);
function r(x,n){return (x>>>n)|(x<<(32-n));}
function sha(s){
 var l=s.length,n=((l+9+63)>>6)<<6,m=new Uint8Array(n),i,o;
 for(i=0;i<l;i++)m[i]=s.charCodeAt(i);
 m[l]=0x80;m[n-4]=(l>>>21)&255;m[n-3]=(l>>>13)&255;m[n-2]=(l>>>5)&255;m[n-1]=(l<<3)&255;
 var H=[0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19];
 for(o=0;o<n;o+=64){
  for(i=0;i<16;i++)W[i]=(m[o+4*i]<<24)|(m[o+4*i+1]<<16)|(m[o+4*i+2]<<8)|m[o+4*i+3];
  for(i=16;i<64;i++){var x=W[i-15],y=W[i-2];W[i]=(W[i-16]+(r(x,7)^r(x,18)^(x>>>3))+W[i-7]+(r(y,17)^r(y,19)^(y>>>10)))|0;}
  var a=H[0],b=H[1],c=H[2],d=H[3],e=H[4],f=H[5],g=H[6],h=H[7];
  for(i=0;i<64;i++){
   var t1=(h+(r(e,6)^r(e,11)^r(e,25))+((e&f)^(~e&g))+K[i]+W[i])|0;
   var t2=((r(a,2)^r(a,13)^r(a,22))+((a&b)^(a&c)^(b&c)))|0;
   h=g;g=f;f=e;e=(d+t1)|0;d=c;c=b;b=a;a=(t1+t2)|0;
  }
  H[0]=(H[0]+a)|0;H[1]=(H[1]+b)|0;H[2]=(H[2]+c)|0;H[3]=(H[3]+d)|0;H[4]=(H[4]+e)|0;H[5]=(H[5]+f)|0;H[6]=(H[6]+g)|0;H[7]=(H[7]+h)|0;
 }
 return H;
}
function zeros(H){var z=Math.clz32(H[0]);return z<32?z:32+Math.clz32(H[1]);}
var f=document.getElementById("fg-quiz");
if(!f)return;
var d=+f.getAttribute("data-difficulty"),c=f.elements.challenge.value+":",st=document.getElementById("fg-status"),k=0;
function step(){
 for(var e=k+20000;k<e;k++){if(zeros(sha(c+k))>=d){f.elements.answer.value=String(k);st.textContent="Done.";setTimeout(function(){f.submit();},+f.getAttribute("data-wait"));return;}}
 st.textContent="Working… "+k;setTimeout(step,0);
}
step();
})();
</script>`

package demo

// baseCSS is inlined in every page: the layout, so a page renders at once
// even when /static/app.css is slow or blocked.
const baseCSS = `*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232b;background:#f5f6f8}
header{display:flex;align-items:center;gap:.75rem;padding:.9rem 1.5rem;background:#14181f;color:#fff}
header a{color:#fff;text-decoration:none}
.brand{font-weight:700;font-size:1.2rem}
.tag{background:#e63946;border-radius:999px;padding:.1rem .6rem;font-size:.8rem;text-transform:uppercase;letter-spacing:.05em}
header .who{margin-left:auto;display:flex;align-items:center;gap:.75rem;font-size:.9rem}
header .login{opacity:.9}
header .user{opacity:.9}
header .signout{margin:0}
header .signout button{font:inherit;font-size:.85rem;background:transparent;color:#fff;border:1px solid rgba(255,255,255,.55);border-radius:6px;padding:.2rem .65rem;cursor:pointer}
header .signout button:hover,header .signout button:focus-visible{background:rgba(255,255,255,.15)}
@media (max-width:480px){header{flex-wrap:wrap}.tag{display:none}}
main{max-width:960px;margin:0 auto;padding:1.5rem}
footer{text-align:center;color:#6b7280;font-size:.85rem;padding:2rem 1rem}
h1{margin:.2rem 0 .6rem;font-size:1.7rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:1rem;padding:0;list-style:none}
.card{background:#fff;border-radius:10px;padding:1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.card a{color:inherit;text-decoration:none}
.thumb{display:flex;align-items:center;justify-content:center;height:120px;border-radius:8px;background:linear-gradient(135deg,#ffd6a5,#ffadad);font-size:3rem;font-weight:700;color:#fff}
.item{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1.3fr);gap:1.5rem;background:#fff;border-radius:12px;padding:1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.item .thumb{height:260px;font-size:6rem}
@media (max-width:640px){.item{grid-template-columns:1fr}}
`

// appCSS is /static/app.css: component styles, served with a long
// lifetime to demonstrate immutable static assets.
const appCSS = `/* flashgate demo shop: components */
.now{font-size:1.6rem;font-weight:700;color:#e63946}
.was{color:#6b7280;margin-left:.4rem}
.off{background:#fde2e4;color:#b42331;border-radius:4px;padding:0 .35rem;margin-left:.4rem;font-size:.85rem;font-weight:600}
.stock{display:inline-block;margin:.6rem 0;font-weight:600}
.stock.in{color:#2a7a3b}
.stock.low{color:#c46a00}
.stock.out{color:#6b7280}
.buy{display:flex;gap:.6rem;align-items:center;margin-top:1rem}
.buy select,.buy input{font:inherit;padding:.45rem;border:1px solid #cbd2da;border-radius:6px}
.buy button,.button{font:inherit;font-weight:600;background:#e63946;color:#fff;border:0;border-radius:6px;padding:.55rem 1.3rem;cursor:pointer}
.buy button:hover,.button:hover{background:#c92e3a}
.cart{margin-top:1.5rem;background:#fff;border-radius:10px;padding:1rem 1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.cart ul{margin:.3rem 0 0;padding-left:1.2rem}
.notice{background:#fff;border-left:4px solid #e63946;border-radius:6px;padding:1rem 1.25rem}
.notice.ok{border-color:#2a7a3b}
.doorbuster{margin:0 0 .3rem;font-weight:600;color:#b42331}
.badge{display:inline-block;background:#b42331;color:#fff;border-radius:999px;padding:.1rem .65rem;margin-right:.4rem;font-size:.8rem;text-transform:uppercase;letter-spacing:.05em}
.terms{margin:.4rem 0 0;padding-left:1.2rem;color:#374151}
.terms li{margin:.2rem 0}
.countdown{font-variant-numeric:tabular-nums;font-weight:700}
`

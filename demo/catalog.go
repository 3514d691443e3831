package demo

import "strconv"

// item is one product of the shop. Items are built once in New and never
// change; only their stock (in inventory) does.
type item struct {
	ID          int
	Name        string
	Description string
	PriceCents  int64 // the flash-sale price
	ListCents   int64 // the price before the sale
}

// products seeds the catalogue; shops with more items than this cycle
// through it and number the editions, so any size stays readable.
var products = [...]struct {
	name, desc string
	list       int64
}{
	{"Aurora Wireless Headphones", "Over-ear, active noise cancelling, 40 hours of battery.", 19900},
	{"Nimbus Mechanical Keyboard", "Hot-swappable switches, aluminium case, per-key backlight.", 12900},
	{"Comet 4K Action Camera", "Stabilised 4K60 video, waterproof to 10 m without a case.", 29900},
	{"Atlas Trail Backpack", "28 litres, rain cover included, ventilated back panel.", 8900},
	{"Pulse Smartwatch", "Heart-rate and sleep tracking, two weeks per charge.", 15900},
	{"Kite Carbon Drone", "249 g, 34 minutes of flight, folds to the size of a phone.", 45900},
	{"Ember Pour-Over Kettle", "Gooseneck spout, keeps water at the degree you choose.", 6900},
	{"Orbit Bluetooth Speaker", "360° sound, dust and splash proof, pairs in stereo.", 7900},
	{"Summit Down Jacket", "800-fill down, packs into its own pocket.", 22900},
	{"Lumen Desk Lamp", "Adjustable colour temperature, wireless charging base.", 5900},
	{"Glide Electric Toothbrush", "Pressure sensor, three modes, travel case.", 4900},
	{"Vertex Gaming Mouse", "26k DPI sensor, 58 g, 70 hours wireless.", 6900},
}

// newCatalog builds n items with ids 1..n.
func newCatalog(n int) []item {
	items := make([]item, n+1) // index 0 unused, so an id indexes directly
	for id := 1; id <= n; id++ {
		p := products[(id-1)%len(products)]
		name := p.name
		if edition := (id-1)/len(products) + 1; edition > 1 {
			name += " (edition " + strconv.Itoa(edition) + ")"
		}
		items[id] = item{
			ID:          id,
			Name:        name,
			Description: p.desc,
			ListCents:   p.list,
			PriceCents:  p.list * 6 / 10, // the sale: 40% off
		}
	}
	return items
}

// appendMoney appends cents as "123.45".
func appendMoney(dst []byte, cents int64) []byte {
	dst = strconv.AppendInt(dst, cents/100, 10)
	dst = append(dst, '.')
	c := cents % 100
	if c < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, c, 10)
}

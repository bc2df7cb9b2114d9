package chain

// bech32Charset is BIP-173's alphabet of 5-bit groups.
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// bech32Gen folds BIP-173's five generator constants into one XOR per
// combination of the checksum's top five bits.
var bech32Gen = func() (t [32]uint32) {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	for b := range t {
		for i, g := range gen {
			if b>>i&1 == 1 {
				t[b] ^= g
			}
		}
	}
	return t
}()

func bech32Step(chk uint32, v byte) uint32 {
	return (chk&0x1ffffff)<<5 ^ uint32(v) ^ bech32Gen[chk>>25]
}

// bech32Gen2 is bech32Gen for two steps at once, by the checksum's top ten
// bits: bech32Step2 is bech32Step(bech32Step(chk, v), w).
var bech32Gen2 = func() (t [1024]uint32) {
	for x := range t {
		a := bech32Gen[x>>5]
		t[x] = (a&0x1ffffff)<<5 ^ bech32Gen[uint32(x&31)^a>>25]
	}
	return t
}()

func bech32Step2(chk uint32, v, w byte) uint32 {
	return (chk&0xfffff)<<10 ^ uint32(v)<<5 ^ uint32(w) ^ bech32Gen2[chk>>20]
}

// bech32Encode is the bech32 (BIP-173, checksum constant 1) text of data's
// bytes under the lowercase hrp: what btcutil's ConvertBits(data, 8, 5, true)
// followed by Encode gives (and gouroboros uses for addresses, pool ids,
// DReps and CIP-14 fingerprints), in one pass and one allocation. It puts
// no limit on the length, as Encode does not.
func bech32Encode(hrp string, data []byte) string {
	n := len(hrp) + 1 + (len(data)*8+4)/5 + 6
	var stack [128]byte
	out := stack[:0]
	if n > len(stack) {
		out = make([]byte, 0, n)
	}
	chk := uint32(1)
	for i := 0; i < len(hrp); i++ {
		chk = bech32Step(chk, hrp[i]>>5)
	}
	chk = bech32Step(chk, 0)
	for i := 0; i < len(hrp); i++ {
		chk = bech32Step(chk, hrp[i]&31)
	}
	out = append(append(out, hrp...), '1')
	// The data's 5-bit groups, written as their characters; the checksum
	// takes them two at a time.
	start := len(out)
	var acc uint32
	bits := 0
	for _, b := range data {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, byte(acc>>bits)&31)
		}
	}
	if bits > 0 {
		out = append(out, byte(acc<<(5-bits))&31)
	}
	groups := out[start:]
	i := 0
	for ; i+1 < len(groups); i += 2 {
		chk = bech32Step2(chk, groups[i], groups[i+1])
	}
	if i < len(groups) {
		chk = bech32Step(chk, groups[i])
	}
	for k, v := range groups {
		groups[k] = bech32Charset[v]
	}
	chk = bech32Step2(bech32Step2(bech32Step2(chk, 0, 0), 0, 0), 0, 0)
	chk ^= 1
	for i := range 6 {
		out = append(out, bech32Charset[chk>>(5*(5-i))&31])
	}
	return string(out)
}

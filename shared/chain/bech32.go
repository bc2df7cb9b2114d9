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
	var acc uint32
	bits := 0
	for _, b := range data {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			v := byte(acc>>bits) & 31
			chk = bech32Step(chk, v)
			out = append(out, bech32Charset[v])
		}
	}
	if bits > 0 {
		v := byte(acc<<(5-bits)) & 31
		chk = bech32Step(chk, v)
		out = append(out, bech32Charset[v])
	}
	for range 6 {
		chk = bech32Step(chk, 0)
	}
	chk ^= 1
	for i := range 6 {
		out = append(out, bech32Charset[chk>>(5*(5-i))&31])
	}
	return string(out)
}

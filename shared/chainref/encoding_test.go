package chainref

import (
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"golang.org/x/crypto/blake2b"
)

// The text encodings users query by, written here from their specifications
// (BIP-173 bech32, CIP-19 addresses, CIP-14 asset fingerprints, Bitcoin's
// base58 for Byron addresses), so that the database's text columns are checked
// against an encoding that is not the decoder's.

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		b := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := range 5 {
			if (b>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

// bech32 encodes data (8-bit bytes) under hrp, without BIP-173's 90-character limit (CIP-5).
func bech32(hrp string, data []byte) string {
	var five []byte
	acc, bits := 0, 0
	for _, b := range data {
		acc = acc<<8 | int(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			five = append(five, byte(acc>>bits)&31)
		}
	}
	if bits > 0 {
		five = append(five, byte(acc<<(5-bits))&31)
	}
	var values []byte
	for _, c := range hrp {
		values = append(values, byte(c)>>5)
	}
	values = append(values, 0)
	for _, c := range hrp {
		values = append(values, byte(c)&31)
	}
	values = append(values, five...)
	pm := bech32Polymod(append(values, 0, 0, 0, 0, 0, 0)) ^ 1
	var sb strings.Builder
	sb.WriteString(hrp)
	sb.WriteByte('1')
	for _, v := range five {
		sb.WriteByte(bech32Charset[v])
	}
	for i := range 6 {
		sb.WriteByte(bech32Charset[(pm>>(5*(5-i)))&31])
	}
	return sb.String()
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func base58(b []byte) string {
	n := new(big.Int).SetBytes(b)
	var out []byte
	mod, radix := new(big.Int), big.NewInt(58)
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

// addressText is the address as wallets write it: CIP-19 bech32 from Shelley
// on (addr / addr_test by the header's network id), base58 of the CBOR for
// Byron addresses.
func addressText(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] >> 4 {
	case 8:
		return base58(raw)
	case 14, 15:
		return rewardText(raw)
	}
	if raw[0]&0x0f == 1 {
		return bech32("addr", raw)
	}
	return bech32("addr_test", raw)
}

// rewardText is a reward account (stake address) in bech32.
func rewardText(raw []byte) string {
	if raw[0]&0x0f == 1 {
		return bech32("stake", raw)
	}
	return bech32("stake_test", raw)
}

// addressParts reads a Shelley address's CIP-19 header: the payment
// credential and whether it is a script, and for base addresses the stake
// address it delegates with (header, network id, stake credential).
func addressParts(raw []byte) (payment []byte, script bool, stake []byte) {
	if len(raw) < 29 {
		return nil, false, nil
	}
	typ := raw[0] >> 4
	if typ > 7 {
		return nil, false, nil
	}
	payment, script = raw[1:29], typ&1 == 1
	if typ <= 3 && len(raw) >= 57 {
		hdr := 0xe0 | raw[0]&0x0f
		if typ&2 != 0 {
			hdr |= 0x10
		}
		stake = append([]byte{hdr}, raw[29:57]...)
	}
	return payment, script, stake
}

// stakeAccount is the reward account of a credential on a network (network id 1 mainnet, 0 testnets).
func stakeAccount(c Credential, networkID byte) []byte {
	hdr := 0xe0 | networkID
	if c.Script {
		hdr |= 0x10
	}
	return append([]byte{hdr}, c.Hash...)
}

// fingerprint is CIP-14's asset fingerprint.
func fingerprint(policy, name []byte) string {
	h, _ := blake2b.New(20, nil)
	h.Write(policy)
	h.Write(name)
	return bech32("asset", h.Sum(nil))
}

// Published vectors: BIP-173, CIP-19, CIP-14 and base58's.
func TestTextEncodings(t *testing.T) {
	hexb := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct{ got, want string }{
		{bech32("a", nil), "a12uel5l"},
		{addressText(hexb("619493315cd92eb5d8c4304e67b7e16ae36d61d34502694657811a2c8e")), "addr1vx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzers66hrl8"},
		{addressText(hexb("e1337b62cfff6403a06a3acbc34f8c46003c69fe79a3628cefa9c47251")), "stake1uyehkck0lajq8gr28t9uxnuvgcqrc6070x3k9r8048z8y5gh6ffgw"},
		{fingerprint(hexb("7eae28af2208be856f7a119668ae52a49b73725e326dc16579dcc373"), nil), "asset1rjklcrnsdzqp65wjgrg55sy9723kw09mlgvlc3"},
		{fingerprint(hexb("7eae28af2208be856f7a119668ae52a49b73725e326dc16579dcc373"), hexb("504154415445")), "asset13n25uv0yaf5kus35fm2k86cqy60z58d9xmde92"},
		{base58([]byte("hello world")), "StV1DL6CwTryKyV"},
		{base58([]byte{0, 0, 1}), "112"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

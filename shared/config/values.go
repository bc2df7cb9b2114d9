package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes. As text it is a plain number of bytes or a
// number with a KiB, MiB or GiB suffix ("180KiB", "1 MiB"); it prints in the
// largest unit that divides it exactly, so String and Set round-trip.
type ByteSize int64

// Size units.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

var sizeUnits = []struct {
	suffix string
	size   ByteSize
}{{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}, {"B", 1}}

// ParseByteSize parses a size as described at ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	mult := ByteSize(1)
	for _, u := range sizeUnits {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.size
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q: want bytes, optionally with a KiB, MiB or GiB suffix", s)
	}
	if n > math.MaxInt64/int64(mult) {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return ByteSize(n) * mult, nil
}

// String prints the size in the largest unit that divides it exactly.
func (b ByteSize) String() string {
	if b != 0 {
		for _, u := range sizeUnits[:3] {
			if b%u.size == 0 {
				return strconv.FormatInt(int64(b/u.size), 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// Set implements flag.Value.
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalTOML accepts a TOML integer (bytes) or a string as for Set.
func (b *ByteSize) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("invalid size %d: negative", v)
		}
		*b = ByteSize(v)
		return nil
	case string:
		return b.Set(v)
	}
	return fmt.Errorf("invalid size %v: want an integer or a string like \"180KiB\"", v)
}

// String implements flag.Value.
func (m SSLMode) String() string { return string(m) }

// Set implements flag.Value. Validate checks the value; Load upper-cases it.
func (m *SSLMode) Set(s string) error {
	*m = SSLMode(s)
	return nil
}

// Valid reports whether m is one of SSLModes.
func (m SSLMode) Valid() bool {
	for _, v := range SSLModes {
		if m == v {
			return true
		}
	}
	return false
}

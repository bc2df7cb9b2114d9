package secrets

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// caFiles remembers the CA files this process wrote, by directory and
// content hash, so that a CA is written once however often the secret is
// read. It is a cache, not configuration.
var caFiles = struct {
	sync.Mutex
	paths map[string]string
}{paths: map[string]string{}}

// caFile returns the path of a private file (mode 0600) holding pemText in
// dir (os.TempDir() when empty), writing it on first use. The file gets a
// fresh random name (os.CreateTemp, O_EXCL), so another user of a shared
// temp directory cannot plant a CA of their own under a name we would
// trust; once written, it is reused for as long as it is still there.
func caFile(dir, pemText string) (string, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	sum := sha256.Sum256([]byte(pemText))
	key := dir + "\x00" + hex.EncodeToString(sum[:])

	caFiles.Lock()
	defer caFiles.Unlock()
	if p, ok := caFiles.paths[key]; ok {
		if st, err := os.Lstat(p); err == nil && st.Mode().IsRegular() && st.Size() == int64(len(pemText)) {
			return p, nil
		}
		delete(caFiles.paths, key) // removed behind our back: write it again
	}
	f, err := os.CreateTemp(dir, "nectar-ca-"+hex.EncodeToString(sum[:6])+"-*.pem")
	if err != nil {
		return "", err
	}
	p := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(p)
		return "", fmt.Errorf("%s: %w", p, err)
	}
	if err := f.Chmod(0o600); err != nil { // CreateTemp's default, made explicit
		return fail(err)
	}
	if _, err := f.WriteString(pemText); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(p)
		return "", fmt.Errorf("%s: %w", p, err)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	caFiles.paths[key] = p
	return p, nil
}

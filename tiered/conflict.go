package tiered

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/strata-storage/strata/storage"
)

// ConflictPrefix is the prefix of the keys under which a write-behind
// store keeps the objects it acknowledged but could not create on the
// remote because another writer had created the key first. List the
// remote under it to find them; see ConflictKey.
const ConflictPrefix = "strata-conflicts/"

// ConflictKey returns the key under which a write-behind store keeps the
// object with SHA-256 sum (lowercase hex, as in storage.Info.SHA256) that
// it acknowledged for key, when a conditional create of key found it
// taken on the remote: ConflictPrefix + key + "/" + sum. When that would
// be longer than a key may be, key is replaced by the hex SHA-256 of key.
// The same object for the same key always gets the same conflict key.
func ConflictKey(key, sum string) string {
	if sum == "" {
		sum = "unknown-sha256"
	}
	ck := ConflictPrefix + key + "/" + sum
	if len(ck) > storage.MaxKeyLen {
		h := sha256.Sum256([]byte(key))
		ck = ConflictPrefix + hex.EncodeToString(h[:]) + "/" + sum
	}
	return ck
}

// resolveConflict handles exErr, the ErrExist a conditional create of
// snap.key got from the remote. When the remote holds the same bytes (an
// earlier attempt landed and its reply was lost), the upload is done.
// When the remote holds nothing under the key, the refusal is not about
// the key itself (MinIO refuses "a/b" while "a" exists) and exErr is
// returned, to be retried. Otherwise another writer created the key
// first: its object is left as it is, the acknowledged one is uploaded to
// its conflict key (a conditional create too, so nothing is overwritten
// there either), and only once the remote has confirmed that copy is the
// local copy of snap.key dropped, so that the key reads as the remote
// holds it. The conflict is logged at ERROR and counted when the conflict
// copy is created. The caller holds snap.key busy.
func (s *Store) resolveConflict(ctx context.Context, snap item, exErr error) error {
	local, err := s.c.Stat(ctx, snap.key)
	if errors.Is(err, storage.ErrNotFound) {
		return errVersionGone
	}
	if err != nil {
		return s.localErr("upload", snap.key, err)
	}
	if !sameETag(local.ETag, snap.etag) {
		return errVersionGone
	}
	remote, err := s.remoteStat(ctx, snap.key)
	if errors.Is(err, storage.ErrNotFound) {
		return exErr
	}
	if err != nil {
		return err
	}
	same, err := s.sameContent(ctx, snap.key, local, remote)
	if err != nil || same {
		return err
	}
	ck := ConflictKey(snap.key, local.SHA256)
	created := true
	if _, err := s.upload(ctx, snap.key, ck, snap.etag, true); errors.Is(err, storage.ErrExist) {
		// A copy was kept before (a restart came between): check it.
		cinfo, serr := s.remoteStat(ctx, ck)
		if serr != nil {
			return serr
		}
		if same, serr = s.sameContent(ctx, ck, local, cinfo); serr != nil {
			return serr
		}
		if !same {
			return fmt.Errorf("keeping the object of a write-behind conflict under %q: %w", ck, err)
		}
		created = false
	} else if err != nil {
		return err
	}
	if created {
		s.ctr.conflicts.Add(1)
		s.log.Error(fmt.Sprintf("tiered: write-behind conflict: another writer created %q on the remote before the upload of the object acknowledged here, which is kept under %q", snap.key, ck),
			"key", snap.key, "conflict_key", ck, "sha256", local.SHA256, "size", local.Size)
	}
	s.clearConditional(snap)
	s.unpin(snap.key, snap.etag)
	if _, err := s.c.Drop(s.work, snap.key, snap.etag); err != nil && !errors.Is(err, storage.ErrClosed) {
		s.log.Warn("tiered: dropping the local copy of a write-behind conflict", "key", snap.key, "err", err)
	}
	return nil
}

// sameContent reports whether the remote object under rkey, of which
// remote is the Info, holds the bytes of local. When the remote reports no
// SHA-256, it reads the object to hash it.
func (s *Store) sameContent(ctx context.Context, rkey string, local, remote storage.Info) (bool, error) {
	if remote.Size != local.Size || local.SHA256 == "" {
		return false, nil
	}
	if remote.SHA256 != "" {
		return remote.SHA256 == local.SHA256, nil
	}
	rc, _, err := s.remoteGet(ctx, rkey, nil, false)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer rc.Close()
	hr := storage.NewHashingReader(rc)
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return false, err
	}
	return hr.N() == local.Size && hr.SHA256() == local.SHA256, nil
}

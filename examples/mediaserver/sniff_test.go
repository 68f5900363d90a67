package main

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUploadType(t *testing.T) {
	ftyp := func(major, compat string) []byte {
		return append([]byte("\x00\x00\x00\x18ftyp"+major+"\x00\x00\x02\x00"+compat), make([]byte, 32)...)
	}
	for _, tc := range []struct {
		name, given, filename string
		head                  []byte
		want                  string
	}{
		{"the client's type is kept", "video/webm", "x.mp4", ftyp("isom", "isom"), "video/webm"},
		{"octet-stream is sniffed", "application/octet-stream", "", ftyp("isom", "iso2avc1mp41"), "video/mp4"},
		{"no type is sniffed", "", "", ftyp("isom", "iso2avc1mp41"), "video/mp4"},
		{"an MP4 without an mp4 brand", "application/octet-stream", "", ftyp("isom", "iso2avc1"), "video/mp4"},
		{"QuickTime", "application/octet-stream", "clip.mov", ftyp("qt  ", "qt  "), "video/quicktime"},
		{"M4A", "", "song.m4a", ftyp("M4A ", "M4A isomiso2"), "audio/mp4"},
		{"3GP", "", "", ftyp("3gp4", "3gp4isom"), "video/3gpp"},
		{"HEIC", "", "", ftyp("heic", "mif1heic"), "image/heic"},
		{"AVIF", "", "", ftyp("avif", "mif1avif"), "image/avif"},
		{"an unknown brand is no MP4", "", "", ftyp("crx ", "crx "), "application/octet-stream"},
		{"net/http's sniffer", "application/octet-stream", "", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "image/png"},
		{"HTML is called HTML", "application/octet-stream", "cat.jpg", []byte("<!DOCTYPE html><script>"), "text/html; charset=utf-8"},
		{"the extension last", "application/octet-stream", "notes.PDF", []byte{0, 1, 2, 3}, "application/pdf"},
		{"nothing known", "application/octet-stream", "blob", []byte{0, 1, 2, 3}, "application/octet-stream"},
		{"octet-stream with parameters", "application/octet-stream; x=y", "", ftyp("isom", "isom"), "video/mp4"},
		{"an empty upload", "", "", nil, ""},
	} {
		assert.Equal(t, tc.want, uploadType(tc.given, tc.filename, tc.head), tc.name)
	}
}

func TestPeek(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100)
	head, r := peek(iotest.OneByteReader(bytes.NewReader(data)), sniffLen)
	assert.Equal(t, data[:sniffLen], head)
	all, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, data, all)

	head, r = peek(bytes.NewReader(data[:10]), sniffLen)
	assert.Equal(t, data[:10], head)
	all, err = io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, data[:10], all)

	// An error while peeking comes from the reader, after the bytes read.
	boom := errors.New("boom")
	head, r = peek(io.MultiReader(bytes.NewReader(data[:10]), iotest.ErrReader(boom)), sniffLen)
	assert.Equal(t, data[:10], head)
	all, err = io.ReadAll(r)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, data[:10], all)
}

package httpserve_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/strata-storage/strata/httpserve"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

// Serve a provider's objects under /media/ on an existing mux, then fetch a
// byte range the way a video player seeking does.
func Example() {
	store := memory.New()
	defer store.Close()
	ctx := context.Background()
	_, _ = store.Put(ctx, "2026/11/clip.webm", strings.NewReader("0123456789"), &storage.PutOptions{ContentType: "video/webm"})

	mux := http.NewServeMux()
	mux.Handle("GET /media/", httpserve.New(store, &httpserve.Options{Prefix: "/media/"}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/media/2026/11/clip.webm", nil)
	req.Header.Set("Range", "bytes=4-6")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Range"), resp.Header.Get("Content-Type"), string(b))
	// Output:
	// 206 bytes 4-6/10 video/webm 456
}

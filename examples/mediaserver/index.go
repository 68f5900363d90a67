package main

import (
	"fmt"
	"html/template"
	"net/http"

	"github.com/strata-storage/strata/storage"
)

// indexPage lets a person upload a file and see or play it. With ?v=KEY it
// plays that object; with &t=SECONDS it seeks there once the video is ready
// and reports what it played to /healthz?event=..., which the browser test
// reads from the request log.
var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>strata media server</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }
video, img { max-width: 100%; display: block; margin: 1rem 0; }
code { background: #eee; padding: 0 .2rem; }
</style>
</head>
<body>
<h1>strata media server</h1>
<form id="up">
  <input type="file" name="file" id="file" required>
  <button type="submit">Upload</button>
</form>
<p id="status"></p>
<div id="view">
{{if .Key}}
  <video id="player" src="/media/{{.Key}}" controls muted preload="metadata"></video>
  <p><a href="/media/{{.Key}}">/media/{{.Key}}</a></p>
{{end}}
</div>
<script>
const status = document.getElementById("status");
document.getElementById("up").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const fd = new FormData();
  fd.append("file", document.getElementById("file").files[0]);
  status.textContent = "uploading...";
  const resp = await fetch("/upload", { method: "POST", body: fd });
  if (!resp.ok) { status.textContent = "upload failed: " + resp.status + " " + await resp.text(); return; }
  const obj = await resp.json();
  status.innerHTML = "";
  const a = document.createElement("a");
  a.href = obj.url; a.textContent = obj.url + " (" + obj.size + " bytes)";
  status.appendChild(a);
  const t = (obj.content_type || "").split("/")[0];
  const el = document.createElement(t === "video" ? "video" : t === "audio" ? "audio" : "img");
  el.src = obj.url; if (t === "video" || t === "audio") el.controls = true;
  document.getElementById("view").replaceChildren(el);
});
{{if .Seek}}
const v = document.getElementById("player");
const report = (event) => fetch("/healthz?event=" + encodeURIComponent(event));
v.addEventListener("loadedmetadata", () => { report("loadedmetadata duration=" + v.duration); v.currentTime = {{.Seek}}; });
v.addEventListener("seeked", () => {
  report("seeked currentTime=" + v.currentTime);
  v.play().then(() => report("playing")).catch((e) => report("play-error " + e));
});
v.addEventListener("timeupdate", () => { if (v.currentTime > {{.Seek}} + 0.3) { report("played-past-seek currentTime=" + v.currentTime); v.pause(); } });
v.addEventListener("error", () => report("error " + (v.error && v.error.code)));
{{end}}
</script>
</body>
</html>
`))

func (s *server) handleIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; media-src 'self'; img-src 'self'")
	data := struct {
		Key  string
		Seek float64
	}{Key: r.URL.Query().Get("v")}
	if data.Key != "" {
		if err := storage.ValidKey(data.Key); err != nil {
			http.Error(w, "bad key", http.StatusBadRequest)
			return
		}
	}
	if t := r.URL.Query().Get("t"); t != "" {
		var f float64
		if _, err := fmt.Sscan(t, &f); err == nil && f > 0 {
			data.Seek = f
		}
	}
	indexPage.Execute(w, data)
}

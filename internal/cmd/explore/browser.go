package explore

import (
	"errors"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// openBrowser opens url in the user's browser without waiting for it. The
// URL carries the token, so it is not put on a command line (which other
// users see in ps): a page that only redirects to it is written, readable
// by the user only, in dir, and that file is opened. It returns an error
// when there is no display or no opener.
func openBrowser(url, dir string) error {
	var opener []string
	switch runtime.GOOS {
	case "darwin":
		opener = []string{"open"}
	case "windows":
		opener = []string{"rundll32", "url.dll,FileProtocolHandler"}
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no display")
		}
		opener = []string{"xdg-open"}
	}
	path, err := exec.LookPath(opener[0])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	page := filepath.Join(dir, "open.html")
	body := `<!doctype html><meta http-equiv="refresh" content="0;url=` + html.EscapeString(url) + `"><a href="` + html.EscapeString(url) + `">midge explore</a>`
	os.Remove(page)
	f, err := os.OpenFile(page, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	cmd := exec.Command(path, append(opener[1:], page)...)
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() // reap it; never block on the browser
	return nil
}

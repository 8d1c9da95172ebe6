// Command funcinvoke is `kn func invoke` built from kn func's own exported code
// (knative.dev/func v0.50.1): the `func` CLI itself does not build here (README.md), so this is
// cmd/invoke.go's runInvoke over the same fn.Client.Invoke, with the same flags, defaults and
// output. Paths below are in $(go env GOMODCACHE)/knative.dev/func@v0.50.1.
//
//	funcinvoke [-p dir] [-t local|remote|<url>] [-f http|cloudevent] [--id ID] [--source S]
//	           [--type T] [--content-type C] [--request-type POST|GET] [--data D | --file F]
//	           [-e key=value]... [-i] [-v] [--record <file>]
//
// What it prints on stdout is what kn func prints; an error is "Error: <err>" on stderr and exit
// 1, as pkg/app/app.go does. kn func prints only what a CloudEvent reply carries in the
// cloudevent format, and nothing at all of an HTTP error's body, so --record (not a kn func
// flag) writes each HTTP exchange kn func's code made, as JSON, for a test to read the answer
// kn func received but did not show.
//
// Left out: the FUNC_* environment variables and the global config (viper, ~/.config/func),
// --confirm's prompts, and the OpenShift service CA in the transport (cmd/client.go:109), which
// only matters for a remote route on OpenShift.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/pflag"
	fn "knative.dev/func/pkg/functions"
	fnhttp "knative.dev/func/pkg/http"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		stop()
		if errors.Is(err, pflag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	// The flags of cmd/invoke.go:129-141 and cmd/root.go:335,340, same names, shorthands, defaults.
	fs := pflag.NewFlagSet("funcinvoke", pflag.ContinueOnError)
	format := fs.StringP("format", "f", "", "Format of message to send, 'http' or 'cloudevent(s)'")
	target := fs.StringP("target", "t", "", "Function instance to invoke: 'local', 'remote' or a URL")
	id := fs.String("id", "", "ID for the request data")
	source := fs.String("source", fn.DefaultInvokeSource, "Source value for the request data")
	typ := fs.String("type", fn.DefaultInvokeType, "Type value for the request data")
	contentType := fs.String("content-type", fn.DefaultInvokeContentType, "Content Type of the data")
	requestType := fs.String("request-type", fn.DefaultInvokeRequestType, "POST or GET")
	data := fs.String("data", fn.DefaultInvokeData, "Data to send in the request")
	file := fs.String("file", "", "Path to a file to use as data; overrides --data")
	insecure := fs.BoolP("insecure", "i", false, "Allow insecure server connections when using SSL")
	extensions := fs.StringSliceP("extension", "e", nil, "Extensions as key=value pairs (cloudevent only)")
	path := fs.StringP("path", "p", "", "Path to the function; default the current directory")
	verbose := fs.BoolP("verbose", "v", false, "Print verbose logs")
	record := fs.String("record", "", "funcinvoke only: write the HTTP exchanges as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	// newInvokeConfig (cmd/invoke.go:281-323): the file replaces --data, "cloudevents" is "cloudevent".
	msgData := []byte(*data)
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		msgData = b
	}
	switch strings.ToLower(*format) {
	case "cloudevent", "cloudevents":
		*format = "cloudevent"
	}

	// An empty --path is the working directory (cmd/root.go:154-173, fn.NewFunction).
	root := *path
	if root == "" {
		root = "."
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}

	// runInvoke (cmd/invoke.go:147-265), in its order.
	f, err := fn.NewFunction(root)
	if err != nil {
		return err
	}
	if err = f.Validate(); err != nil {
		fmt.Printf("error validating function at '%v'. %v\n", f.Root, err)
		return err
	}
	if *format != "" && f.Invoke != "" && *format != f.Invoke {
		fmt.Printf("Warning: invoking as %q, but function declares type %q in func.yaml.\n"+
			"   This may fail unless you rebuild or update func.yaml with `invoke: %s`.\n\n",
			*format, f.Invoke, *format)
	}
	if !f.Initialized() {
		return errors.New("no function found in current directory.\nYou need to be inside a function directory to invoke it")
	}
	if len(*extensions) > 0 {
		effective := *format
		if effective == "" {
			effective = f.Invoke
		}
		if effective != "cloudevent" {
			return errors.New("--extension (-e) is only valid with cloudevents")
		}
	}
	exts := map[string]string{}
	for _, ext := range *extensions {
		parts := strings.SplitN(ext, "=", 2)
		if len(parts) != 2 || strings.TrimSpace(parts[0]) == "" {
			return fmt.Errorf("invalid --extension %q: must be in key=value format", ext)
		}
		exts[parts[0]] = parts[1]
	}

	// The CLI's transport (cmd/client.go:109) without the OpenShift CA; the recorder only watches.
	transport := fnhttp.NewRoundTripper(fnhttp.WithInsecureSkipVerify(*insecure))
	defer func() { _ = transport.Close() }()
	rec := &recorder{next: transport}
	client := fn.New(fn.WithVerbose(*verbose), fn.WithTransport(rec))

	m := fn.InvokeMessage{
		ID:          *id,
		Source:      *source,
		Type:        *typ,
		ContentType: *contentType,
		RequestType: strings.ToUpper(*requestType),
		Data:        msgData,
		Format:      *format,
		Extensions:  exts,
	}
	metadata, body, err := client.Invoke(ctx, root, *target, m)
	if *record != "" {
		// Written even when Invoke failed: an HTTP error's status and body are only here.
		if werr := rec.write(*record); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}

	if *verbose {
		fmt.Println("Function invoked.  Response:")
		if len(metadata) > 0 {
			fmt.Println("  Metadata:")
		}
		for k, vv := range metadata {
			fmt.Printf("    %v: %v\n", k, strings.Join(vv, ";"))
		}
		if len(metadata) > 0 {
			fmt.Println("  Content:")
		}
	}
	fmt.Print(body)
	return nil
}

type exchange struct {
	Method   string      `json:"method"`
	URL      string      `json:"url"`
	Header   http.Header `json:"header"`
	Body     string      `json:"body"`
	Response *response   `json:"response"`
	Error    string      `json:"error,omitempty"`
}

type response struct {
	Status int         `json:"status"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
}

// recorder passes each request to kn func's transport unchanged and keeps a copy of it and of
// the answer (the body is read once and handed back as the same bytes).
type recorder struct {
	next      http.RoundTripper
	mu        sync.Mutex
	exchanges []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchange{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone()}
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		x.Body = string(b)
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		x.Error = err.Error()
	} else {
		b, rerr := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		x.Response = &response{Status: resp.StatusCode, Header: resp.Header.Clone(), Body: string(b)}
		if rerr != nil {
			x.Error = rerr.Error()
		}
	}
	r.mu.Lock()
	r.exchanges = append(r.exchanges, x)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) write(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := json.MarshalIndent(r.exchanges, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

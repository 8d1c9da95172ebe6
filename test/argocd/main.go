// argocd-health: runs an Argo CD health script on one object the way Argo CD's application
// controller runs a health customization from argocd-cm. Usage: argocd-health SCRIPT < object.json;
// prints {"status": ..., "message": ...}. Exits non-zero with the error where Argo CD would show
// the health as Unknown with that error as its message, and where the script returns nil (Argo CD
// then shows no health for the object).
//
// It mirrors github.com/argoproj/argo-cd v3.6.2's util/lua/lua.go (runLuaWithResourceActionParameters,
// ExecuteHealthLua, isValidHealthStatusCode, decodeValue; the same in v3.5.8 but for a nil result)
// on the same interpreter and JSON bridge at the versions Argo CD pins (go.mod), with its
// oslib_safe.go copied beside this file: the same libraries opened (package, base, table, and the
// safe os, kept with its quirk: OpenSafeOs registers under the table library's name, which is
// already loaded, so it adds nothing and the safe os.time and os.date come only through
// require("os"); there is no global `os`, `string` or `math`), the 1 s limit, the object as the
// global `obj` converted by the same rules, the returned table read through the same JSON round
// trip. UseOpenLibs is false, as for an argocd-cm customization without
// resource.customizations.useOpenLibs (ours has none).
// Not reproduced: the controller's step before any script, which reads an object being deleted as
// Progressing "Pending deletion" (gitops-engine's health.GetResourceHealth).
//
// Why not import Argo CD's util/lua itself: v3.6 needs Go 1.27 and v3.4/v3.5 need a gitops-engine
// version the module proxy does not serve; v3.2.12 resolves, but util/lua's imports (the whole
// Application API, gRPC clients, every built-in script) are 1410 packages: 10 minutes to build
// cold on 2 cores (beside another build) and a 70 MB binary, for the ~100 lines that evaluate a
// health script. That build, run once outside this repository, gave the same verdicts as this one
// for health.lua and for scripts returning {}, an invalid status or a number as message, raising
// an error (the same message) and reading require("os"), string and math; for a script returning
// nil it gave an empty status, as v3.5.8 does, where v3.6.2, mirrored here, gives none.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

// gitops-engine's health.HealthStatus, which Argo CD decodes the script's table into.
type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// What this prints: both fields always.
type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argocd-health SCRIPT < object.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(2)
	}
	// The controller's objects are unstructured.Unstructured, whose JSON decoding gives whole
	// numbers as int64 where this gives float64; decodeValue turns both into the same LNumber.
	var object map[string]any
	if err := json.NewDecoder(os.Stdin).Decode(&object); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health: reading the object:", err)
		os.Exit(2)
	}
	health, err := executeHealthLua(object, string(script))
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health: Argo CD would show Unknown:", err)
		os.Exit(1)
	}
	if health == nil {
		fmt.Fprintln(os.Stderr, "argocd-health: the script returned nil: Argo CD would show no health")
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(verdict(*health)); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(1)
	}
}

// Argo CD's runLuaWithResourceActionParameters with no action parameters and UseOpenLibs false.
func runLua(obj map[string]any, script string) (*lua.LState, error) {
	l := lua.NewState(lua.Options{
		SkipOpenLibs: true,
	})
	defer l.Close()
	// Opens table library to allow access to functions to manipulate tables
	for _, pair := range []struct {
		n string
		f lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		// load our 'safe' version of the OS library
		{lua.OsLibName, OpenSafeOs},
	} {
		if err := l.CallByParam(lua.P{
			Fn:      l.NewFunction(pair.f),
			NRet:    0,
			Protect: true,
		}, lua.LString(pair.n)); err != nil {
			panic(err)
		}
	}
	// preload our 'safe' version of the OS library. Allows the 'local os = require("os")' to work
	l.PreloadModule(lua.OsLibName, SafeOsLoader)

	ctx, cancel := context.WithTimeout(context.Background(), 1*time.Second)
	defer cancel()
	l.SetContext(ctx)

	l.SetGlobal("actionParams", l.CreateTable(0, 0))
	l.SetGlobal("obj", decodeValue(l, obj))

	// Argo CD compiles through a cache of compiled scripts; uncached, that is LoadString.
	fn, err := l.LoadString(script)
	if err == nil {
		l.Push(fn)
		err = l.PCall(0, lua.MultRet, nil)
	}

	// Remove the default lua stack trace from execution errors since these
	// errors will make it back to the user
	if apiErr, ok := errors.AsType[*lua.ApiError](err); ok {
		if apiErr.Type == lua.ApiErrorRun {
			apiErr.StackTrace = ""
			err = apiErr
		}
	}

	return l, err
}

// Argo CD's ExecuteHealthLua.
func executeHealthLua(obj map[string]any, script string) (*healthStatus, error) {
	l, err := runLua(obj, script)
	if err != nil {
		return nil, err
	}
	returnValue := l.Get(-1)
	if returnValue.Type() == lua.LTTable {
		jsonBytes, err := luajson.Encode(returnValue)
		if err != nil {
			return nil, err
		}
		health := &healthStatus{}
		err = json.Unmarshal(jsonBytes, health)
		if err != nil {
			// Validate if the error is caused by an empty object
			var typeError *json.UnmarshalTypeError
			if errors.As(err, &typeError) {
				return &healthStatus{}, nil
			}
			return nil, err
		}
		if !isValidHealthStatusCode(health.Status) {
			return &healthStatus{
				Status:  "Unknown",
				Message: "Lua returned an invalid health status",
			}, nil
		}

		return health, nil
	} else if returnValue.Type() == lua.LTNil {
		return nil, nil
	}
	return nil, fmt.Errorf("expect %s output from Lua script, not %s", "table", returnValue.Type().String())
}

// gitops-engine's health status codes.
func isValidHealthStatusCode(statusCode string) bool {
	switch statusCode {
	case "Unknown", "Progressing", "Suspended", "Healthy", "Degraded", "Missing":
		return true
	}
	return false
}

// Argo CD's decodeValue.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case json.Number:
		return lua.LString(converted)
	case int:
		return lua.LNumber(converted)
	case int32:
		return lua.LNumber(converted)
	case int64:
		return lua.LNumber(converted)
	case []any:
		arr := l.CreateTable(len(converted), 0)
		for _, item := range converted {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(converted))
		for key, item := range converted {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	case nil:
		return lua.LNil
	}

	return lua.LNil
}

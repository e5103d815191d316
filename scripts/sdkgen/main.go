// sdkgen writes the SDK of one language for the package schema, with the code generators of
// Pulumi's pkg/v3 module (the CLI's `pulumi package gen-sdk` asks the language host, and the
// language hosts this project can build predate that). Run by scripts/sdks.sh.
//
// pkg/v3 is pinned to v3.206.0: the version the YAML language host builds with (so a cold
// bootstrap compiles it once), and one that still holds the .NET generator (it has since moved to
// a module of its own, which the Go module proxy does not serve).
//
//	sdkgen LANGUAGE SCHEMA.json OUT_DIR
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	dotnetgen "github.com/pulumi/pulumi/pkg/v3/codegen/dotnet"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	pythongen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const tool = "deployment-authorization sdkgen"

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: sdkgen python|go|dotnet SCHEMA.json OUT_DIR")
		os.Exit(2)
	}
	language, schemaPath, out := os.Args[1], os.Args[2], os.Args[3]
	if err := run(language, schemaPath, out); err != nil {
		fmt.Fprintf(os.Stderr, "sdkgen: %s: %v\n", language, err)
		os.Exit(1)
	}
}

func run(language, schemaPath, out string) error {
	text, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(text, &spec); err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	pkg, diags, err := schema.BindSpec(spec, nil, schema.ValidationOptions{}) // the schema refers to no other package
	if err != nil {
		return err
	}
	if diags.HasErrors() {
		return diags
	}
	var files map[string][]byte
	switch language {
	case "python":
		files, err = pythongen.GeneratePackage(tool, pkg, nil, nil)
	case "go":
		files, err = gogen.GeneratePackage(tool, pkg, nil)
	case "dotnet":
		// The NuGet package's icon: the generator downloads the schema's logoUrl, or else Pulumi's
		// logo from GitHub; it gets this file instead (no network but the package registries here).
		if pkg.LogoURL == "" {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			http.DefaultTransport.(*http.Transport).RegisterProtocol("file", http.NewFileTransport(http.Dir("/")))
			pkg.LogoURL = "file://" + filepath.Join(filepath.Dir(exe), "logo.png")
		}
		files, err = dotnetgen.GeneratePackage(tool, pkg, nil, nil)
	default:
		return fmt.Errorf("no generator for %q (python, go, dotnet)", language)
	}
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	for name, content := range files {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

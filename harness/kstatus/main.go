// kstatus reads one Kubernetes object as JSON on stdin and prints how Flux's
// kstatus library (github.com/fluxcd/cli-utils/pkg/kstatus/status) judges it:
// {"status": "Current|InProgress|Failed|Terminating|...", "message": "..."}.
// The e2e tests use it as the oracle for "conditions that Flux understands".
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading stdin:", err)
		os.Exit(2)
	}
	var obj unstructured.Unstructured
	if err := obj.UnmarshalJSON(raw); err != nil {
		fmt.Fprintln(os.Stderr, "not a Kubernetes object:", err)
		os.Exit(2)
	}
	result, err := status.Compute(&obj)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(2)
	}
	out := map[string]string{"status": string(result.Status), "message": result.Message}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(2)
	}
}

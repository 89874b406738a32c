// Command testreport summarises `go test -json` from stdin: the output of
// every failed test, the slowest tests and packages, and one closing line
// "tests: N passed, N failed, N skipped". gotestsum does more; this is the
// few lines the test script needs, without another tool to pin.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type result struct {
	name    string
	elapsed float64
}

func main() {
	outputs := map[string]*strings.Builder{}
	var passed, failed, skipped int
	var failures []string
	var slow, pkgs []result
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // build errors arrive as plain text
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			b := outputs[key]
			if b == nil {
				b = &strings.Builder{}
				outputs[key] = b
			}
			if b.Len() < 256<<10 {
				b.WriteString(e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				if e.Action == "fail" {
					failures = append(failures, key)
				}
				pkgs = append(pkgs, result{e.Package, e.Elapsed})
				continue
			}
			switch e.Action {
			case "pass":
				passed++
			case "fail":
				failed++
				failures = append(failures, key)
			case "skip":
				skipped++
			}
			if !strings.Contains(e.Test, "/") {
				slow = append(slow, result{e.Package + "." + e.Test, e.Elapsed})
			}
		}
	}
	for _, f := range failures {
		fmt.Printf("\n--- FAIL %s\n", f)
		if b := outputs[f]; b != nil {
			fmt.Print(b.String())
		}
	}
	top := func(title string, rs []result, n int) {
		sort.Slice(rs, func(i, j int) bool { return rs[i].elapsed > rs[j].elapsed })
		fmt.Printf("\n%s\n", title)
		for i := 0; i < len(rs) && i < n; i++ {
			fmt.Printf("  %7.1fs  %s\n", rs[i].elapsed, rs[i].name)
		}
	}
	top("slowest packages:", pkgs, 10)
	top("slowest tests:", slow, 10)
	fmt.Printf("\ntests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || len(failures) > 0 {
		os.Exit(1)
	}
}

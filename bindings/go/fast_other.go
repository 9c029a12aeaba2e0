// SPDX-License-Identifier: MIT

//go:build !amd64 || memlimit_cgocall

package memlimit

func findLevelWord() *int32 {
	if !loaded {
		return &noLevel
	}
	return nil
}

func fastPath() string { return "cgo call" }

// directLoad says whether findLevelWord may find the word (the tests expect it to).
const directLoad = false

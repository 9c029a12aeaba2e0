// SPDX-License-Identifier: MIT

//go:build !memlimit_cgocall

package memlimit

// #include "bridge.h"
import "C"

import "unsafe"

// findLevelWord returns the word memlimit_level loads when its code is only that
// load (bridge.c checks the instructions): reading it with sync/atomic is then the
// call, at the cost of a load (a cgo call costs ~40 ns). Without the library, a
// word that stays LevelNone. Build with -tags memlimit_cgocall to always call.
func findLevelWord() *int32 {
	if !loaded {
		return &noLevel
	}
	return (*int32)(unsafe.Pointer(C.ml_go_level_word()))
}

func fastPath() string {
	if levelWord != nil {
		return "direct load"
	}
	return "cgo call"
}

// directLoad says whether findLevelWord may find the word (the tests expect it to).
const directLoad = true

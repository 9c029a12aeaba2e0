// SPDX-License-Identifier: MIT

//go:build memlimit_link

package memlimit

// With the memlimit_link build tag the program links libmemlimit (-lmemlimit; set
// CGO_LDFLAGS="-L<dir> -Wl,-rpath,<dir>" for a library outside the default path)
// instead of needing it preloaded.

// #cgo LDFLAGS: -lmemlimit
import "C"

const linked = true

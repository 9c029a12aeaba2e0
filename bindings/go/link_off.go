// SPDX-License-Identifier: MIT

//go:build !memlimit_link

package memlimit

const linked = false

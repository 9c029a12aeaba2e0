/* Where large zeroed buffers go: after the rest of .bss (preload/cold.ld places the
 * section), so that the small state every start-up touches shares a page or two
 * instead of sitting between buffers, one page and one fault per module at every
 * exec. Only for zero-initialised objects. */
#ifndef ML_COLD_H
#define ML_COLD_H

#define ML_COLD __attribute__((section(".bss.ml_cold")))

#endif

/* SPDX-License-Identifier: MIT */
/* The release, from the VERSION file: the Makefile passes it as -DML_VERSION. A build
 * that does not (make sanitize and make fuzz compile the sources themselves) says so
 * rather than claim a release. */
#ifndef ML_VERSION_H
#define ML_VERSION_H

#ifndef ML_VERSION
#define ML_VERSION "unknown (built without the Makefile)"
#endif

#endif

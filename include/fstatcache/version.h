/*
 * fstatcache/version.h - the package version (docs/COMPATIBILITY.md says
 * what it promises, beside the format and protocol versions).
 */
#ifndef FSTATCACHE_VERSION_H
#define FSTATCACHE_VERSION_H

#define FSC_VERSION_MAJOR 0
#define FSC_VERSION_MINOR 1
#define FSC_VERSION_PATCH 0
#define FSC_VERSION_STRING "0.1.0"

#endif /* FSTATCACHE_VERSION_H */

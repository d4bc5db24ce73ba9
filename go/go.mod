module fstatcache.example/go/fstatcache

go 1.19

module fstatcache.example/bench/go

go 1.19

require fstatcache.example/go/fstatcache v0.0.0

replace fstatcache.example/go/fstatcache => ../../go

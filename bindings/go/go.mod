module memlimit

go 1.19

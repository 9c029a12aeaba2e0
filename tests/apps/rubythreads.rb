# rubythreads.rb [THREADS=16] [REQUESTS=30] [MIB=16] [IN_FLIGHT=2]: a Puma-like
# threaded server's heap: THREADS threads each serve REQUESTS requests, at most
# IN_FLIGHT at once; a request builds MIB MiB of strings of 1-8 KiB (malloc'd: above
# Ruby's embedded size), keeps one in a bounded per-thread cache and drops the rest
# for the GC. Live data stays near IN_FLIGHT x MIB plus what the GC has not yet
# collected; glibc's per-thread arenas keep each thread's high-water mark. Prints
# the total size of what the caches held.
threads = (ARGV[0] || 16).to_i
requests = (ARGV[1] || 30).to_i
mib = (ARGV[2] || 16).to_i
in_flight = SizedQueue.new((ARGV[3] || 2).to_i)
workers = Array.new(threads) do |id|
  Thread.new(id) do |me|
    r = Random.new(me + 1)
    cache = []
    requests.times do
      in_flight.push(true)
      objs = []
      bytes = 0
      while bytes < (mib << 20)
        sz = 1024 + r.rand(7168)
        objs << ("a".ord + r.rand(26)).chr * sz
        bytes += sz
      end
      cache << objs[r.rand(objs.size)]
      cache.shift while cache.size > 256
      objs = nil
      in_flight.pop
      Thread.pass
    end
    cache.sum(&:size)
  end
end
puts workers.sum(&:value)

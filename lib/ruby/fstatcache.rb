# fstatcache.rb - Ruby bindings of libfstatcache.so through FFI (Debian:
# ruby-ffi), and a demo: `fstatcache stat --json` in Ruby.
#
#   require_relative 'fstatcache'
#   FStatCache::Handle.open('demo') do |h|      # nil: $FSTATCACHE_NAME
#     h.watch('/var/log/syslog')
#     p h.stat('/var/log/syslog')                # {"path"=>..., "source"=>"cache", ...}
#   end
#
#   ruby lib/ruby/fstatcache.rb [--name NAME] [--watch] PATH...
#
# prints one JSON object per path with the keys of `fstatcache stat --json`
# (--watch: watch every path first and wait for the writer to cache it).
# The library is $FSC_LIBFSTATCACHE if set, else libfstatcache.so.0 from
# the loader's path.  Ruby cannot compile the C header: the structure is
# laid out here, and checked against the library's fsc_lib_sizeof().
require 'ffi'
require 'json'

module FStatCache
  extend FFI::Library
  ffi_lib ENV.fetch('FSC_LIBFSTATCACHE', 'libfstatcache.so.0')

  MISS = 1
  UNCACHED = 2
  SOURCE_CACHE = 1
  OP_WATCH = 2
  OP_UNWATCH = 3
  OP_SYNC = 5
  CONTROL_TIMEOUT_MS = 30_000

  # struct fsc_stat: three ints, format.h's FSC_STAT_FIELDS, have, atime.
  class Stat < FFI::Struct
    layout :exists, :int, :source, :int, :err, :int,
           :mode, :uint32, :uid, :uint32, :gid, :uint32,
           :dev, :uint64, :ino, :uint64, :nlink, :uint64, :rdev, :uint64,
           :size, :int64, :blocks, :int64, :mtime_sec, :int64,
           :ctime_sec, :int64, :mtime_nsec, :uint32, :ctime_nsec, :uint32,
           :blksize, :uint32, :have, :uint32,
           :atime_sec, :int64, :atime_nsec, :uint32
  end

  attach_function :fsc_open, [:pointer, :string, :uint], :int
  attach_function :fsc_close, [:pointer], :void
  attach_function :fsc_lookup, [:pointer, :string, Stat.by_ref], :int
  attach_function :fsc_stat, [:pointer, :string, Stat.by_ref], :int
  attach_function :fsc_control,
                  [:pointer, :int, :string, :int, :pointer, :size_t], :int
  attach_function :fsc_strerror, [:int], :string
  attach_function :fsc_lib_sizeof, [:string], :size_t
  attach_function :fsc_lib_version, [], :string

  unless fsc_lib_sizeof('fsc_stat') == Stat.size
    raise LoadError, "libfstatcache #{fsc_lib_version}: struct fsc_stat is " \
                     "#{fsc_lib_sizeof('fsc_stat')} bytes, these bindings " \
                     "lay out #{Stat.size}"
  end

  # An error of the library: errno is the negative return value's magnitude.
  class Error < StandardError
    attr_reader :errno

    def initialize(ret, what)
      @errno = -ret
      super("#{what}: #{FStatCache.fsc_strerror(ret)}")
    end
  end

  # A reader handle (fsc_open); close it, or use Handle.open with a block.
  class Handle
    def self.open(name = nil, flags = 0)
      h = new(name, flags)
      return h unless block_given?

      begin
        yield h
      ensure
        h.close
      end
    end

    def initialize(name = nil, flags = 0)
      out = FFI::MemoryPointer.new(:pointer)
      r = FStatCache.fsc_open(out, name, flags)
      raise Error.new(r, "fsc_open(#{name.inspect})") if r.negative?

      @h = out.read_pointer
    end

    def close
      FStatCache.fsc_close(@h) if @h
      @h = nil
    end

    # stat(2) through the cache: a Hash with the keys of `fstatcache stat --json`.
    def stat(path)
      st = Stat.new
      r = FStatCache.fsc_stat(@h, path, st)
      raise Error.new(r, "fsc_stat(#{path})") if r.negative?

      FStatCache.to_h(path, st)
    end

    # The cache only: the Hash, or nil when the cache has no answer.
    def lookup(path)
      st = Stat.new
      r = FStatCache.fsc_lookup(@h, path, st)
      raise Error.new(r, "fsc_lookup(#{path})") if r.negative?

      r.zero? ? FStatCache.to_h(path, st) : nil
    end

    def watch(path) = control(OP_WATCH, path)
    def unwatch(path) = control(OP_UNWATCH, path)
    def sync = control(OP_SYNC, nil)

    private

    def control(op, path)
      msg = FFI::MemoryPointer.new(:char, 256)
      r = FStatCache.fsc_control(@h, op, path, CONTROL_TIMEOUT_MS, msg, 256)
      detail = msg.read_string
      raise Error.new(r, "fsc_control(#{op}, #{path.inspect})#{detail.empty? ? '' : " (#{detail})"}") if r.negative?

      nil
    end
  end

  def self.to_h(path, st)
    h = { 'path' => path, 'exists' => st[:exists] != 0,
          'source' => st[:source] == SOURCE_CACHE ? 'cache' : 'stat' }
    # A missing file: zeros, as `fstatcache stat --json` prints it.
    %i[dev ino mode nlink uid gid size blocks].each { |k| h[k.to_s] = st[k] }
    h['mtime_ns'] = st[:mtime_sec] * 1_000_000_000 + st[:mtime_nsec]
    h['ctime_ns'] = st[:ctime_sec] * 1_000_000_000 + st[:ctime_nsec]
    h
  end
end

if $PROGRAM_NAME == __FILE__
  name = nil
  watch = false
  paths = []
  args = ARGV.dup
  until args.empty?
    a = args.shift
    case a
    when '--name' then name = args.shift or abort('fstatcache.rb: --name needs a value')
    when '--watch' then watch = true
    when /\A-/ then abort("usage: fstatcache.rb [--name NAME] [--watch] PATH...")
    else paths << a
    end
  end
  abort('usage: fstatcache.rb [--name NAME] [--watch] PATH...') if paths.empty?
  begin
    FStatCache::Handle.open(name) do |h|
      paths.each { |p| h.watch(p) } if watch
      paths.each { |p| puts JSON.generate(h.stat(p)) }
    end
  rescue FStatCache::Error => e
    abort("fstatcache.rb: #{e.message}")
  end
end

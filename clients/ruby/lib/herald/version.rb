# herald/version.rb -- the gem's version.
module Herald
  VERSION = "0.1.0"
end

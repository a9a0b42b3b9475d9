require "json"

module Billing
  # An invoice.
  class Invoice < Base
    attr_reader :total

    def initialize(total)
      @total = total
    end

    def self.parse(text)
      new(JSON.parse(text)["total"])
    end
  end

  def self.version
    "1.0"
  end
end

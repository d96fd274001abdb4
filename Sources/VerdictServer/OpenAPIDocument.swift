/// The OpenAPI 3.1 description of the API, served at `/openapi.json`. Tests check it against the real
/// answers (every route, every status code, the shape of every body), so change both together.
enum OpenAPIDocument {
    static let json = #"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "Verdict",
            "version": "0.4.0",
            "description": "Threat-intelligence enrichment for Wazuh: look IPs, domains, URLs, emails and file hashes up across up to 11 sources and get one explainable verdict. Credits: 3 per indicator that at least one outside source answered (found, not found, or a refusal of the value itself such as HTTP 414); cache hits, suppressed values, local-only answers and lookups where every outside source failed are free."
          },
          "servers": [
            {
              "url": "/"
            }
          ],
          "components": {
            "securitySchemes": {
              "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key made with `verdict keys create`."
              }
            },
            "headers": {
              "RequestId": {
                "description": "The request's id, also in the server's access log.",
                "schema": {
                  "type": "string"
                }
              },
              "RetryAfter": {
                "description": "Seconds to wait before retrying.",
                "schema": {
                  "type": "integer"
                }
              }
            },
            "schemas": {
              "Error": {
                "type": "object",
                "required": [
                  "error"
                ],
                "properties": {
                  "error": {
                    "type": "object",
                    "required": [
                      "code",
                      "message"
                    ],
                    "properties": {
                      "code": {
                        "type": "string",
                        "description": "Stable machine-readable reason, e.g. insufficient_credits."
                      },
                      "message": {
                        "type": "string",
                        "description": "What was wrong and what to do."
                      },
                      "invalid": {
                        "type": "array",
                        "description": "For invalid_indicators: each bad entry, its position and why.",
                        "items": {
                          "type": "object",
                          "required": [
                            "index",
                            "input",
                            "reason"
                          ],
                          "properties": {
                            "index": {
                              "type": "integer",
                              "minimum": 0
                            },
                            "input": {},
                            "reason": {
                              "type": "string"
                            }
                          }
                        }
                      },
                      "required": {
                        "type": "integer",
                        "description": "For insufficient_credits: credits the lookup needs."
                      },
                      "remaining": {
                        "type": "integer",
                        "description": "For insufficient_credits: credits left this month."
                      },
                      "limit": {
                        "type": "integer"
                      },
                      "limit_bytes": {
                        "type": "integer"
                      },
                      "retry_after_s": {
                        "type": "integer"
                      },
                      "unknown": {
                        "type": "array",
                        "items": {
                          "type": "string"
                        }
                      },
                      "source": {
                        "type": "string"
                      }
                    }
                  }
                }
              },
              "IndicatorType": {
                "type": "string",
                "enum": [
                  "ipv4",
                  "ipv6",
                  "domain",
                  "url",
                  "email",
                  "md5",
                  "sha1",
                  "sha256"
                ]
              },
              "SourceName": {
                "type": "string",
                "enum": [
                  "virustotal",
                  "abuseipdb",
                  "otx",
                  "greynoise",
                  "misp",
                  "maltiverse",
                  "urlhaus",
                  "threatfox",
                  "malwarebazaar",
                  "internetdb",
                  "local"
                ]
              },
              "LookupRequest": {
                "type": "object",
                "required": [
                  "indicators"
                ],
                "additionalProperties": false,
                "properties": {
                  "indicators": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 100,
                    "items": {
                      "oneOf": [
                        {
                          "type": "string",
                          "minLength": 1,
                          "pattern": "\\S",
                          "description": "A value whose type is detected; defanged forms are accepted."
                        },
                        {
                          "type": "object",
                          "required": [
                            "type",
                            "value"
                          ],
                          "properties": {
                            "type": {
                              "$ref": "#/components/schemas/IndicatorType"
                            },
                            "value": {
                              "type": "string",
                              "minLength": 1,
                              "pattern": "\\S"
                            }
                          }
                        }
                      ]
                    }
                  },
                  "sources": {
                    "type": [
                      "array",
                      "null"
                    ],
                    "minItems": 1,
                    "items": {
                      "$ref": "#/components/schemas/SourceName"
                    },
                    "description": "Only these sources; every source that is on when left out or null."
                  },
                  "refresh": {
                    "type": [
                      "boolean",
                      "null"
                    ],
                    "default": false,
                    "description": "Ask the sources again even when the cache has a fresh answer."
                  }
                }
              },
              "SourceResult": {
                "type": "object",
                "required": [
                  "source",
                  "status"
                ],
                "properties": {
                  "source": {
                    "type": "string"
                  },
                  "status": {
                    "type": "string",
                    "enum": [
                      "ok",
                      "not_found",
                      "error",
                      "skipped",
                      "quota_exhausted",
                      "circuit_open"
                    ]
                  },
                  "verdict": {
                    "type": "string",
                    "enum": [
                      "malicious",
                      "suspicious",
                      "harmless",
                      "unknown"
                    ]
                  },
                  "score": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 100
                  },
                  "error": {
                    "type": "string"
                  },
                  "latency_ms": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "categories": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  },
                  "tags": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  },
                  "first_seen": {
                    "type": "string"
                  },
                  "last_seen": {
                    "type": "string"
                  },
                  "link": {
                    "type": "string"
                  },
                  "details": {
                    "type": "object"
                  }
                }
              },
              "Result": {
                "type": "object",
                "required": [
                  "indicator",
                  "verdict",
                  "score",
                  "confidence",
                  "summary",
                  "categories",
                  "cached",
                  "age_s",
                  "sources"
                ],
                "properties": {
                  "indicator": {
                    "type": "object",
                    "required": [
                      "type",
                      "value"
                    ],
                    "properties": {
                      "type": {
                        "$ref": "#/components/schemas/IndicatorType"
                      },
                      "value": {
                        "type": "string",
                        "description": "The canonical (refanged, normalised) value."
                      },
                      "input": {
                        "type": "string",
                        "description": "What was sent, when it differs from the value."
                      }
                    }
                  },
                  "verdict": {
                    "type": "string",
                    "enum": [
                      "malicious",
                      "suspicious",
                      "harmless",
                      "unknown",
                      "suppressed"
                    ]
                  },
                  "score": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 100
                  },
                  "confidence": {
                    "type": "string",
                    "enum": [
                      "low",
                      "medium",
                      "high"
                    ]
                  },
                  "summary": {
                    "type": "string"
                  },
                  "categories": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  },
                  "cached": {
                    "type": "boolean"
                  },
                  "age_s": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "reason": {
                    "type": "string",
                    "description": "Why a suppressed value was not looked up."
                  },
                  "warninglists": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  },
                  "sources": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/SourceResult"
                    }
                  }
                }
              },
              "LookupResponse": {
                "type": "object",
                "required": [
                  "request_id",
                  "credits",
                  "results"
                ],
                "properties": {
                  "request_id": {
                    "type": "string"
                  },
                  "credits": {
                    "type": "object",
                    "required": [
                      "charged",
                      "remaining"
                    ],
                    "properties": {
                      "charged": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "remaining": {
                        "type": [
                          "integer",
                          "null"
                        ],
                        "minimum": 0,
                        "description": "null for an unlimited plan."
                      }
                    }
                  },
                  "results": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Result"
                    }
                  },
                  "warnings": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    },
                    "description": "Present when the answer cannot be what it seems: for example no outside source is on for some of the indicators' types (the message names the settings that turn sources on)."
                  }
                }
              },
              "Usage": {
                "type": "object",
                "required": [
                  "key",
                  "month",
                  "credits",
                  "requests",
                  "lookups",
                  "cache_hits",
                  "upstream_lookups",
                  "suppressed"
                ],
                "properties": {
                  "key": {
                    "type": "object",
                    "required": [
                      "name",
                      "plan",
                      "prefix"
                    ],
                    "properties": {
                      "name": {
                        "type": "string"
                      },
                      "plan": {
                        "type": "string",
                        "enum": [
                          "free",
                          "starter",
                          "professional",
                          "enterprise"
                        ]
                      },
                      "prefix": {
                        "type": "string"
                      }
                    }
                  },
                  "month": {
                    "type": "string",
                    "description": "The calendar month in UTC, YYYY-MM."
                  },
                  "credits": {
                    "type": "object",
                    "required": [
                      "monthly",
                      "used",
                      "remaining"
                    ],
                    "properties": {
                      "monthly": {
                        "type": [
                          "integer",
                          "null"
                        ]
                      },
                      "used": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "remaining": {
                        "type": [
                          "integer",
                          "null"
                        ],
                        "minimum": 0
                      }
                    }
                  },
                  "requests": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "lookups": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "cache_hits": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "upstream_lookups": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "suppressed": {
                    "type": "integer",
                    "minimum": 0
                  }
                }
              },
              "Health": {
                "type": "object",
                "required": [
                  "status",
                  "version",
                  "sources"
                ],
                "properties": {
                  "status": {
                    "type": "string",
                    "enum": [
                      "ok"
                    ]
                  },
                  "version": {
                    "type": "string"
                  },
                  "sources": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  }
                }
              },
              "Ready": {
                "type": "object",
                "required": [
                  "status"
                ],
                "properties": {
                  "status": {
                    "type": "string",
                    "enum": [
                      "ready"
                    ]
                  }
                }
              },
              "Override": {
                "type": "object",
                "required": [
                  "type",
                  "value",
                  "verdict",
                  "reason",
                  "author",
                  "created_at",
                  "expires_at"
                ],
                "additionalProperties": false,
                "properties": {
                  "type": {
                    "$ref": "#/components/schemas/IndicatorType"
                  },
                  "value": {
                    "type": "string"
                  },
                  "verdict": {
                    "type": "string",
                    "enum": [
                      "malicious",
                      "harmless"
                    ]
                  },
                  "reason": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "author": {
                    "type": "string",
                    "description": "The API key's name, or cli:<user>."
                  },
                  "created_at": {
                    "type": "integer",
                    "description": "Seconds since 1970."
                  },
                  "expires_at": {
                    "type": [
                      "integer",
                      "null"
                    ],
                    "description": "Seconds since 1970; null for never."
                  }
                }
              },
              "OverrideRequest": {
                "type": "object",
                "required": [
                  "indicator",
                  "verdict"
                ],
                "properties": {
                  "indicator": {
                    "type": "string",
                    "minLength": 1
                  },
                  "verdict": {
                    "type": "string",
                    "enum": [
                      "malicious",
                      "harmless"
                    ]
                  },
                  "reason": {
                    "type": "string"
                  },
                  "expires": {
                    "type": "string",
                    "description": "30d, 12h, 90m; absent for never."
                  }
                }
              }
            },
            "responses": {
              "Unauthorized": {
                "description": "Missing, malformed, unknown or revoked API key.",
                "headers": {
                  "X-Request-Id": {
                    "$ref": "#/components/headers/RequestId"
                  }
                },
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "RateLimited": {
                "description": "The key sent more requests than its rate limit allows (rate_limited), or has more requests in hand than server.max_in_flight_per_key (too_many_in_flight).",
                "headers": {
                  "Retry-After": {
                    "$ref": "#/components/headers/RetryAfter"
                  }
                },
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "StoreUnavailable": {
                "description": "The key and credit store is not answering (store_unavailable), or the server has more requests in hand than server.max_in_flight (server_busy); nothing was looked up or charged.",
                "headers": {
                  "Retry-After": {
                    "$ref": "#/components/headers/RetryAfter"
                  }
                },
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              }
            }
          },
          "paths": {
            "/v1/enrichment/lookup": {
              "post": {
                "summary": "Look indicators up",
                "security": [
                  {
                    "apiKey": []
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/LookupRequest"
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "description": "One result per indicator, in the order sent.",
                    "headers": {
                      "X-Request-Id": {
                        "$ref": "#/components/headers/RequestId"
                      }
                    },
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/LookupResponse"
                        }
                      }
                    }
                  },
                  "400": {
                    "description": "Malformed JSON, invalid UTF-8, or members of the wrong type.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "402": {
                    "description": "Not enough credits this month: nothing was looked up or charged; the error has required and remaining.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "408": {
                    "description": "The body did not arrive within server.body_timeout_ms; the connection is closed.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "413": {
                    "description": "The body is larger than the server's limit.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "415": {
                    "description": "The body was not sent as application/json.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "Invalid indicators (each named with its reason), no indicators, more than 100, unknown or unconfigured sources, unknown members.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/StoreUnavailable"
                  },
                  "504": {
                    "description": "The lookup took longer than the request deadline; nothing was charged.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/v1/usage": {
              "get": {
                "summary": "The calling key's plan, credits and counts this month",
                "security": [
                  {
                    "apiKey": []
                  }
                ],
                "responses": {
                  "200": {
                    "description": "Figures for the current UTC month.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Usage"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "429": {
                    "$ref": "#/components/responses/RateLimited"
                  },
                  "503": {
                    "$ref": "#/components/responses/StoreUnavailable"
                  }
                }
              }
            },
            "/v1/health": {
              "get": {
                "summary": "Liveness: the process answers",
                "responses": {
                  "200": {
                    "description": "Alive.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Health"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/v1/ready": {
              "get": {
                "summary": "Readiness: the key and credit store answers",
                "responses": {
                  "200": {
                    "description": "Ready to serve.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Ready"
                        }
                      }
                    }
                  },
                  "503": {
                    "$ref": "#/components/responses/StoreUnavailable"
                  }
                }
              }
            },
            "/metrics": {
              "get": {
                "summary": "Prometheus metrics",
                "responses": {
                  "200": {
                    "description": "Prometheus text exposition format 0.0.4.",
                    "content": {
                      "text/plain": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/openapi.json": {
              "get": {
                "summary": "This document",
                "responses": {
                  "200": {
                    "description": "OpenAPI 3.1.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/favicon.ico": {
              "get": {
                "summary": "The page's icon",
                "responses": {
                  "200": {
                    "description": "An SVG image.",
                    "content": {
                      "image/svg+xml": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/": {
              "get": {
                "summary": "A web page to look indicators up by hand",
                "responses": {
                  "200": {
                    "description": "HTML.",
                    "content": {
                      "text/html": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/v1/overrides": {
              "get": {
                "summary": "The analysts' overrides in force (admin keys)",
                "security": [
                  {
                    "apiKey": []
                  }
                ],
                "responses": {
                  "200": {
                    "description": "Every override that has not expired.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object",
                          "required": [
                            "overrides"
                          ],
                          "additionalProperties": false,
                          "properties": {
                            "overrides": {
                              "type": "array",
                              "items": {
                                "$ref": "#/components/schemas/Override"
                              }
                            }
                          }
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "description": "The key is not one of server.admin_keys.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "503": {
                    "$ref": "#/components/responses/StoreUnavailable"
                  }
                }
              },
              "post": {
                "summary": "Set a value's verdict: it wins over every source, costs nothing, and is named in the summary (admin keys)",
                "security": [
                  {
                    "apiKey": []
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "$ref": "#/components/schemas/OverrideRequest"
                      }
                    }
                  }
                },
                "responses": {
                  "201": {
                    "description": "The override, in force now on this server and on the others within seconds.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Override"
                        }
                      }
                    }
                  },
                  "400": {
                    "description": "The body is not a JSON object.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "description": "The key is not one of server.admin_keys.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "Not an indicator, a verdict other than malicious or harmless, or an unreadable expires.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "503": {
                    "$ref": "#/components/responses/StoreUnavailable"
                  }
                }
              }
            },
            "/v1/overrides/{type}/{value}": {
              "delete": {
                "summary": "Take a value's override away (admin keys)",
                "security": [
                  {
                    "apiKey": []
                  }
                ],
                "parameters": [
                  {
                    "name": "type",
                    "in": "path",
                    "required": true,
                    "schema": {
                      "$ref": "#/components/schemas/IndicatorType"
                    }
                  },
                  {
                    "name": "value",
                    "in": "path",
                    "required": true,
                    "schema": {
                      "type": "string"
                    },
                    "description": "The value, percent-encoded."
                  }
                ],
                "responses": {
                  "200": {
                    "description": "Removed.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object",
                          "required": [
                            "removed"
                          ],
                          "additionalProperties": false,
                          "properties": {
                            "removed": {
                              "type": "object",
                              "required": [
                                "type",
                                "value"
                              ],
                              "properties": {
                                "type": {
                                  "$ref": "#/components/schemas/IndicatorType"
                                },
                                "value": {
                                  "type": "string"
                                }
                              }
                            }
                          }
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "description": "The key is not one of server.admin_keys.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "No override on that value.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "The path does not name an indicator.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Error"
                        }
                      }
                    }
                  },
                  "503": {
                    "$ref": "#/components/responses/StoreUnavailable"
                  }
                }
              }
            }
          }
        }
        """#
}
